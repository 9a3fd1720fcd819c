package dev.rill.core;

import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Makes Awaitility look at a condition at once and then every 5 ms, for every test class of this module (registered
 * through {@code META-INF/services}, autodetection switched on in {@code junit-platform.properties}). Awaitility's
 * default waits a whole 100 ms poll interval before its first look, so an {@code await()} whose condition already
 * holds still cost 100 ms, and one in a loop (80 rounds of {@code MostlyLiveHeadTest}) cost seconds of nothing.
 * The conditions and their {@code atMost} bounds are the tests' own; only how often they are looked at changes.
 */
public final class QuickPollExtension implements BeforeAllCallback {

    /** The interval between two looks at a condition. */
    static final Duration POLL = Duration.ofMillis(5);

    @Override
    public void beforeAll(ExtensionContext context) {
        Awaitility.setDefaultPollDelay(Duration.ZERO);
        Awaitility.setDefaultPollInterval(POLL);
    }
}
