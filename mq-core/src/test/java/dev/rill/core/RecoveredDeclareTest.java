package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryListener;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The corners of declaring a queue that may have been recovered from the log. */
class RecoveredDeclareTest {

    @TempDir
    Path dir;

    private static final DurabilityOptions QUIET = DurabilityOptions.defaults().fsync(FsyncPolicy.never())
            .recoveryListener(RecoveryListener.none()).clock(() -> 0L);

    /**
     * A spec that is not valid registers no codec: the declaration changes nothing, so a later declaration on the
     * broker itself still asks for the codec.
     */
    @Test
    void aSpecRefusedRegistersNoCodec() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(QueueSpec.named("q").maxDeliveries(3), Codec.utf8()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxDeliveries");
            assertThat(b.codec("q")).isEmpty();
        }
    }
}
