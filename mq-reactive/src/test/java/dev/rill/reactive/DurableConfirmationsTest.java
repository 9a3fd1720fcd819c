package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.log.FsyncPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * A durable broker confirms sends through one shared list of waiting callers and one armed log callback at a time:
 * every caller is confirmed exactly once, from many threads, and none is confirmed once the log has failed.
 */
class DurableConfirmationsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void everySendFromManyThreadsIsConfirmedExactlyOnceAndSurvivesARestart() throws Exception {
        for (FsyncPolicy policy : new FsyncPolicy[] {FsyncPolicy.always(), FsyncPolicy.interval(Duration.ofMillis(5)),
                FsyncPolicy.never()}) {
            Path data = dir.resolve(policy.kind().name());
            ReactiveBroker broker = Rill.embedded(data, DurabilityOptions.defaults().fsync(policy));
            Scheduler producers = Schedulers.newParallel("confirm-producer", 4);
            int perProducer = 2500;
            AtomicInteger confirmed = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(4 * perProducer);
            try {
                ReactiveQueue<String> q = broker.queue(QueueSpec.named("c"), Codec.utf8()).block(TIMEOUT);
                for (int p = 0; p < 4; p++) {
                    int id = p;
                    Flux.range(0, perProducer)
                            .flatMap(i -> q.send(OutboundMessage.of(id + ":" + i)), 64)
                            .subscribeOn(producers)
                            .subscribe(r -> {
                                confirmed.incrementAndGet();
                                done.countDown();
                            }, e -> failed.incrementAndGet());
                }
                assertThat(done.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS))
                        .as("%s: %d of %d confirmed", policy, confirmed.get(), 4 * perProducer).isTrue();
                assertThat(failed.get()).isZero();
            } finally {
                producers.dispose();
                broker.close().block(TIMEOUT);
            }
            assertThat(confirmed.get()).isEqualTo(4 * perProducer); // no confirmation twice
            ReactiveBroker again = Rill.embedded(data, DurabilityOptions.defaults().fsync(policy));
            try {
                ReactiveQueue<String> q = again.queue(QueueSpec.named("c"), Codec.utf8()).block(TIMEOUT);
                assertThat(q.stats().block(TIMEOUT).ready()).isEqualTo(4 * perProducer);
            } finally {
                again.close().block(TIMEOUT);
            }
        }
    }

    /** Encodes any text but "bad", as a user's codec that cannot encode some of its values would. */
    private static final Codec<String> PICKY = new Codec<>() {
        @Override
        public byte[] encode(String payload) {
            if (payload.startsWith("bad")) {
                throw new IllegalStateException("cannot encode " + payload);
            }
            return payload.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
        }
    };

    @Test
    void aPayloadTheCodecCannotEncodeIsRefusedBeforeItIsStoredNeverConfirmedAndNeverLost() throws Exception {
        // the log used to encode on its writer thread: a payload it could not encode was stored in memory (delivered,
        // then gone after a restart) and its send confirmed when another record appended meanwhile was durable
        Path data = dir.resolve("picky");
        ReactiveBroker broker = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("p"), PICKY).block(TIMEOUT);
            q.send(OutboundMessage.of("ok-1")).block(TIMEOUT);
            assertThatThrownBy(() -> q.send(OutboundMessage.of("bad-1")).block(TIMEOUT))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("queue 'p'").hasMessageContaining("cannot encode bad-1")
                    .hasMessageContaining("not stored");
            StepVerifier.create(q.sendMany(Flux.just("ok-2", "ok-3", "bad-2", "ok-4").map(OutboundMessage::of)))
                    .assertNext(r -> assertThat(r.message().payload()).isEqualTo("ok-2"))
                    .assertNext(r -> assertThat(r.message().payload()).isEqualTo("ok-3"))
                    .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("cannot encode bad-2"))
                    .verify(TIMEOUT);
            assertThat(q.stats().block(TIMEOUT).ready()).isEqualTo(3);
        } finally {
            broker.close().block(TIMEOUT);
        }
        ReactiveBroker again = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> q = again.queue(QueueSpec.named("p"), PICKY).block(TIMEOUT);
            assertThat(q.peek(10).map(m -> m.payload()).collectList().block(TIMEOUT))
                    .containsExactly("ok-1", "ok-2", "ok-3"); // what was confirmed is all there is, before and after
        } finally {
            again.close().block(TIMEOUT);
        }
    }

    /** UTF-8, counting its encode calls and remembering the threads they ran on. */
    private static final class CountingCodec implements Codec<String> {
        final AtomicInteger encodes = new AtomicInteger();
        final java.util.Set<String> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public byte[] encode(String payload) {
            encodes.incrementAndGet();
            threads.add(Thread.currentThread().getName());
            return payload.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void aCustomCodecEncodesEachPayloadOncePerSendOnTheSendersThread() throws Exception {
        // before, the reactive layer encoded each payload to check it and the log's writer thread encoded it again
        Path data = dir.resolve("counting");
        CountingCodec codec = new CountingCodec();
        ReactiveBroker broker = Rill.embedded(data, DurabilityOptions.defaults());
        Scheduler producers = Schedulers.newParallel("encode-producer", 2);
        int singles = 300;
        int many = 700;
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("e").unbounded(), codec).block(TIMEOUT);
            Flux.range(0, singles)
                    .flatMap(i -> q.send(OutboundMessage.of("s" + i)).subscribeOn(producers), 32)
                    .then().block(TIMEOUT);
            assertThat(q.sendMany(Flux.range(0, many).map(i -> OutboundMessage.of("m" + i)))
                    .count().block(TIMEOUT)).isEqualTo(many);
            assertThat(codec.encodes.get()).as("one encode per message sent").isEqualTo(singles + many);
            assertThat(codec.threads).as("never on the log's threads").noneMatch(n -> n.startsWith("rill-log"));
        } finally {
            producers.dispose();
            broker.close().block(TIMEOUT);
        }
        ReactiveBroker again = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> q = again.queue(QueueSpec.named("e").unbounded(), codec).block(TIMEOUT);
            assertThat(q.stats().block(TIMEOUT).ready()).isEqualTo(singles + many);
            assertThat(codec.encodes.get()).as("recovery decodes only").isEqualTo(singles + many);
        } finally {
            again.close().block(TIMEOUT);
        }
    }

    @Test
    void onceTheLogFailsEveryWaitingAndLaterSendFails() throws Exception {
        Path data = dir.resolve("vanishing");
        ReactiveBroker broker = Rill.embedded(data, DurabilityOptions.defaults().segmentBytes(4096));
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("f"), Codec.utf8()).block(TIMEOUT);
            q.send(OutboundMessage.of("before")).block(TIMEOUT);
            try (Stream<Path> files = Files.list(data)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(data); // the next segment cannot be created: the log fails at its roll
            String big = "x".repeat(500);
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger errors = new AtomicInteger();
            CountDownLatch all = new CountDownLatch(200);
            for (int i = 0; i < 200; i++) {
                q.send(OutboundMessage.of(i + big)).subscribe(r -> {
                    ok.incrementAndGet();
                    all.countDown();
                }, e -> {
                    errors.incrementAndGet();
                    all.countDown();
                });
            }
            assertThat(all.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS))
                    .as("every send completes one way or the other").isTrue();
            assertThat(errors.get()).as("sends after the failed roll fail").isPositive();
            // once one failed, the log stays failed: a later send fails too
            assertThat(q.send(OutboundMessage.of("after")).map(r -> "ok").onErrorReturn("failed").block(TIMEOUT))
                    .isEqualTo("failed");
        } finally {
            broker.close().onErrorResume(e -> reactor.core.publisher.Mono.empty()).block(TIMEOUT);
        }
    }
}
