package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link OutboundMessage}: defaults, copy-on-write options and their checks. */
class OutboundMessageTest {

    @Test
    void defaults() {
        OutboundMessage<String> m = OutboundMessage.of("p");
        assertThat(m.payload()).isEqualTo("p");
        assertThat(m.key()).isNull();
        assertThat(m.priority()).isZero();
        assertThat(m.delay()).isEqualTo(Duration.ZERO);
        assertThat(m.ttl()).isNull();
        assertThat(m.dedupId()).isNull();
        assertThat(m.headers()).isEmpty();
        assertThat(m.toString()).isEqualTo("OutboundMessage{payload=p}");
    }

    @Test
    void optionsReturnNewInstancesAndLeaveTheOriginalUnchanged() {
        OutboundMessage<String> base = OutboundMessage.of("p");
        OutboundMessage<String> all = base.key("k").priority(7).delay(Duration.ofSeconds(2)).ttl(Duration.ofMinutes(1))
                .dedupId("d").header("h", "v");
        assertThat(all).isNotSameAs(base);
        assertThat(all.key()).isEqualTo("k");
        assertThat(all.priority()).isEqualTo(7);
        assertThat(all.delay()).isEqualTo(Duration.ofSeconds(2));
        assertThat(all.ttl()).isEqualTo(Duration.ofMinutes(1));
        assertThat(all.dedupId()).isEqualTo("d");
        assertThat(all.headers()).containsExactly(Map.entry("h", "v"));
        assertThat(all.toString()).contains("key=k", "priority=7", "delay=PT2S", "ttl=PT1M", "dedupId=d", "h=v");

        assertThat(base.key()).isNull();
        assertThat(base.priority()).isZero();
        assertThat(base.delay()).isZero();
        assertThat(base.ttl()).isNull();
        assertThat(base.dedupId()).isNull();
        assertThat(base.headers()).isEmpty();

        OutboundMessage<String> k = base.key("k");
        assertThat(k.priority(3)).isNotSameAs(k);
        assertThat(k.priority()).isZero();
        OutboundMessage<String> h = base.header("a", "1");
        h.header("b", "2");
        assertThat(h.headers()).containsExactly(Map.entry("a", "1"));
    }

    @Test
    void headerAddsOrReplacesAndHeadersReplacesAll() {
        OutboundMessage<String> m = OutboundMessage.of("p").header("a", "1").header("b", "2").header("a", "3");
        assertThat(m.headers()).containsOnly(Map.entry("a", "3"), Map.entry("b", "2"));
        OutboundMessage<String> replaced = m.headers(Map.of("c", "4"));
        assertThat(replaced.headers()).containsOnly(Map.entry("c", "4"));
        assertThat(m.headers()).containsOnly(Map.entry("a", "3"), Map.entry("b", "2"));
    }

    @Test
    void headersAreCopiedAndImmutable() {
        Map<String, String> source = new HashMap<>();
        source.put("a", "1");
        OutboundMessage<String> m = OutboundMessage.of("p").headers(source);
        source.put("b", "2");
        assertThat(m.headers()).containsOnly(Map.entry("a", "1"));
        assertThatThrownBy(() -> m.headers().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> OutboundMessage.of("p").headers().put("x", "y"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void withPayloadKeepsEveryOption() {
        OutboundMessage<String> m = OutboundMessage.of("p").key("k").priority(2).delay(Duration.ofSeconds(1))
                .ttl(Duration.ofSeconds(9)).dedupId("d").header("h", "v");
        OutboundMessage<Integer> n = m.withPayload(42);
        assertThat(n.payload()).isEqualTo(42);
        assertThat(n.key()).isEqualTo("k");
        assertThat(n.priority()).isEqualTo(2);
        assertThat(n.delay()).isEqualTo(Duration.ofSeconds(1));
        assertThat(n.ttl()).isEqualTo(Duration.ofSeconds(9));
        assertThat(n.dedupId()).isEqualTo("d");
        assertThat(n.headers()).isEqualTo(m.headers());
        assertThat(m.payload()).isEqualTo("p");
        assertThatNullPointerException().isThrownBy(() -> m.withPayload(null)).withMessage("payload");
    }

    @Test
    void payloadIsRequired() {
        assertThatNullPointerException().isThrownBy(() -> OutboundMessage.of(null)).withMessage("payload");
    }

    @Test
    void priorityRange() {
        OutboundMessage<String> m = OutboundMessage.of("p");
        assertThat(m.priority(OutboundMessage.MIN_PRIORITY).priority()).isZero();
        assertThat(m.priority(OutboundMessage.MAX_PRIORITY).priority()).isEqualTo(9);
        assertThatIllegalArgumentException().isThrownBy(() -> m.priority(10))
                .withMessage("priority must be 0..9, was 10");
        assertThatIllegalArgumentException().isThrownBy(() -> m.priority(-1))
                .withMessage("priority must be 0..9, was -1");
    }

    @Test
    void delayRange() {
        OutboundMessage<String> m = OutboundMessage.of("p");
        assertThat(m.delay(Duration.ofDays(365)).delay()).isEqualTo(Duration.ofDays(365));
        assertThatIllegalArgumentException().isThrownBy(() -> m.delay(Duration.ofMillis(-1)))
                .withMessage("delay must be 0..365 days, was PT-0.001S");
        assertThatIllegalArgumentException().isThrownBy(() -> m.delay(Duration.ofDays(365).plusMillis(1)))
                .withMessageStartingWith("delay must be 0..365 days, was PT8760H0.001S");
        assertThatNullPointerException().isThrownBy(() -> m.delay(null)).withMessage("delay");
    }

    @Test
    void ttlMustBePositive() {
        OutboundMessage<String> m = OutboundMessage.of("p");
        assertThatIllegalArgumentException().isThrownBy(() -> m.ttl(Duration.ZERO))
                .withMessage("ttl must be positive, was PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> m.ttl(Duration.ofSeconds(-2)))
                .withMessage("ttl must be positive, was PT-2S");
        assertThatNullPointerException().isThrownBy(() -> m.ttl(null)).withMessage("ttl");
        assertThat(m.ttl(Duration.ofMillis(1)).ttl()).isEqualTo(Duration.ofMillis(1));
    }

    @Test
    void stringsAreOneTo1024Characters() {
        OutboundMessage<String> m = OutboundMessage.of("p");
        String max = "x".repeat(OutboundMessage.MAX_STRING_LENGTH);
        String tooLong = max + "x";
        assertThat(m.key(max).key()).hasSize(1024);
        assertThat(m.dedupId(max).dedupId()).hasSize(1024);
        assertThat(m.header(max, max).headers()).containsEntry(max, max);
        assertThatIllegalArgumentException().isThrownBy(() -> m.key(""))
                .withMessage("key must be 1..1024 characters, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> m.key(tooLong))
                .withMessage("key must be 1..1024 characters, was 1025");
        assertThatIllegalArgumentException().isThrownBy(() -> m.dedupId(""))
                .withMessage("dedupId must be 1..1024 characters, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> m.header("", "v"))
                .withMessage("header name must be 1..1024 characters, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> m.header("n", tooLong))
                .withMessage("header value must be 1..1024 characters, was 1025");
        assertThatIllegalArgumentException().isThrownBy(() -> m.headers(Map.of("n", "")))
                .withMessage("header value must be 1..1024 characters, was 0");
        assertThatNullPointerException().isThrownBy(() -> m.key(null)).withMessage("key");
        assertThatNullPointerException().isThrownBy(() -> m.dedupId(null)).withMessage("dedupId");
        assertThatNullPointerException().isThrownBy(() -> m.header(null, "v")).withMessage("header name");
        assertThatNullPointerException().isThrownBy(() -> m.headers(null)).withMessage("headers");
        Map<String, String> nullValue = new HashMap<>();
        nullValue.put("n", null);
        assertThatNullPointerException().isThrownBy(() -> m.headers(nullValue)).withMessage("header value");
    }

    @Test
    void sendCarriesEveryOptionIntoTheMessage() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").ordering(Ordering.KEY_ORDERED));
        q.send(OutboundMessage.of("p").key("k").priority(4).header("h", "v"), 7);
        Message<String> m = q.receive(1, 7).get(0).message();
        assertThat(m.payload()).isEqualTo("p");
        assertThat(m.key()).isEqualTo("k");
        assertThat(m.priority()).isEqualTo(4);
        assertThat(m.headers()).containsExactly(Map.entry("h", "v"));
        assertThat(m.timestamp()).isEqualTo(7);
        assertThat(m.toString()).contains("payload=p", "key=k", "priority=4", "h=v");
    }
}
