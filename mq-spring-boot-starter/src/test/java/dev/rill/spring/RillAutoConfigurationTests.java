package dev.rill.spring;

import java.util.Map;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.ExpiryAction;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The broker and queue auto-configuration: defaults, every queue property, invalid values, backing off. */
class RillAutoConfigurationTests {

    private static final Duration T = Duration.ofSeconds(10);

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillMetricsAutoConfiguration.class,
                    RillHealthAutoConfiguration.class));

    @Test
    void defaultsToAWorkingInMemoryBrokerThatClosesWithTheContext() {
        ReactiveBroker[] seen = new ReactiveBroker[1];
        runner.run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(ReactiveBroker.class).hasSingleBean(RillQueues.class)
                    .hasSingleBean(ManagedBroker.class).hasSingleBean(RillPipelineLifecycle.class);
            ReactiveBroker broker = context.getBean(ReactiveBroker.class);
            seen[0] = broker;
            assertThat(context.getBean(RillQueues.class).specs()).isEmpty();
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("hello"), Codec.utf8()).block(T);
            q.send(OutboundMessage.of("Hello, World!")).block(T);
            Delivery<String> d = q.receiveOne(Duration.ZERO).block(T);
            assertThat(d.message().payload()).isEqualTo("Hello, World!");
            d.ack().block(T);
            assertThat(q.receiveOne(Duration.ZERO).block(T)).isNull();
        });
        // the context closed: the broker it created is closed too
        assertThatThrownBy(() -> seen[0].queue(QueueSpec.named("after"), Codec.utf8()).block(T))
                .isInstanceOf(QueueClosedException.class);
    }

    @Test
    void declaresEveryQueuePropertyAsTheEquivalentSpec() {
        runner.withPropertyValues(
                        "rill.queues.orders.visibility-timeout=45s",
                        "rill.queues.orders.max-deliveries=5",
                        "rill.queues.orders.dead-letter-queue=orders-dlq",
                        "rill.queues.orders.capacity=1000",
                        "rill.queues.orders.max-bytes=64MB",
                        "rill.queues.orders.ordering=key-ordered",
                        "rill.queues.orders.message-ttl=1h",
                        "rill.queues.orders.on-expiry=dead-letter",
                        "rill.queues.orders.dedup-window=2m",
                        "rill.queues.orders.overflow=fail",
                        "rill.queues.orders-dlq.capacity=50",
                        "rill.queues.audit.max-deliveries=3",
                        "rill.queues.audit.discard-dead-letters=true")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    RillQueues queues = context.getBean(RillQueues.class);
                    QueueSpec orders = QueueSpec.named("orders").visibilityTimeout(Duration.ofSeconds(45))
                            .maxDeliveries(5).deadLetterQueue("orders-dlq").capacity(1000)
                            .maxBytes(64L * 1024 * 1024).ordering(Ordering.KEY_ORDERED)
                            .messageTtl(Duration.ofHours(1)).onExpiry(ExpiryAction.DEAD_LETTER)
                            .dedupWindow(Duration.ofMinutes(2)).overflow(Overflow.FAIL);
                    assertThat(queues.spec("orders").differences(orders)).isEmpty();
                    assertThat(queues.spec("orders-dlq")).isEqualTo(QueueSpec.named("orders-dlq").capacity(50));
                    assertThat(queues.spec("audit"))
                            .isEqualTo(QueueSpec.named("audit").maxDeliveries(3).discardDeadLetters());
                    // the dead-letter queue is declared before the queue that names it, with its own settings
                    assertThat(List.copyOf(queues.specs().keySet())).containsExactly("orders-dlq", "audit", "orders");
                    ReactiveBroker broker = context.getBean(ReactiveBroker.class);
                    assertThat(broker.list().block(T)).containsExactlyInAnyOrder("orders", "orders-dlq", "audit");
                    QueueStats dlq = broker.stats().block(T).stream().filter(s -> s.name().equals("orders-dlq"))
                            .findFirst().orElseThrow();
                    assertThat(dlq.capacity()).isEqualTo(50);
                    // the application gets the declared queue without restating its spec
                    ReactiveQueue<String> q = queues.queue("orders", Codec.utf8()).block(T);
                    assertThat(q.spec()).isEqualTo(orders);
                    assertThatThrownBy(() -> queues.queue("nope", Codec.utf8()))
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("'nope' is not declared under rill.queues");
                });
    }

    @Test
    void inMemoryQueuesDeclaredAtStartupKeepTheApplicationsPayloadObjectsAsTheyAre() {
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withPropertyValues("rill.queues.orders.capacity=10").run(context -> {
                    assertThat(context).hasNotFailed();
                    // declared (and metered) at startup, before the application's first typed view
                    assertThat(context.getBean(ReactiveBroker.class).list().block(T)).containsExactly("orders");
                    assertThat(context.getBean(MeterRegistry.class).find(RillMetrics.READY).tag("queue", "orders")
                            .gauge()).isNotNull();
                    // so the application's codec is the queue's first: no codec runs, objects pass as they are
                    Codec<StringBuilder> neverCalled = Codec.of(sb -> {
                        throw new AssertionError("encode called");
                    }, bytes -> {
                        throw new AssertionError("decode called");
                    });
                    ReactiveQueue<StringBuilder> q = context.getBean(RillQueues.class).queue("orders", neverCalled)
                            .block(T);
                    StringBuilder sent = new StringBuilder("as it is");
                    q.send(OutboundMessage.of(sent)).block(T);
                    Delivery<StringBuilder> d = q.receiveOne(Duration.ZERO).block(T);
                    assertThat(d.payload()).isSameAs(sent);
                    d.ack().block(T);
                });
    }

    @Test
    void unsetQueuePropertiesKeepQueueSpecDefaults() {
        runner.withPropertyValues("rill.queues.plain.capacity=10").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(RillQueues.class).spec("plain")).isEqualTo(QueueSpec.named("plain").capacity(10));
        });
    }

    @Test
    void maxDeliveriesWithoutADeadLetterQueueStopsTheStartWithQueueSpecsMessage() {
        assertStartFails("rill.queues.orders.max-deliveries=5",
                "rill.queues.orders: queue 'orders': maxDeliveries=5 needs deadLetterQueue(name) or "
                        + "discardDeadLetters(); refusing to lose messages silently");
    }

    @Test
    void outOfRangeValuesStopTheStartNamingTheProperty() {
        assertStartFails("rill.queues.orders.capacity=0", "rill.queues.orders.capacity: capacity must be >= 1, was 0");
        assertStartFails("rill.queues.orders.max-deliveries=0",
                "rill.queues.orders.max-deliveries: maxDeliveries must be >= 1, was 0");
        assertStartFails("rill.queues.orders.visibility-timeout=0s",
                "rill.queues.orders.visibility-timeout: visibilityTimeout must be positive, was 0s");
        assertStartFails("rill.queues.orders.message-ttl=-5s",
                "rill.queues.orders.message-ttl: messageTtl must be positive, was -5s");
        assertStartFails("rill.queues.orders.dedup-window=0ms",
                "rill.queues.orders.dedup-window: dedupWindow must be positive, was 0s");
        assertStartFails("rill.queues.orders.max-bytes=0B", "rill.queues.orders.max-bytes: maxBytes must be >= 1, was 0");
        assertStartFails("rill.queues.orders.dead-letter-queue=orders",
                "rill.queues.orders: queue 'orders': deadLetterQueue must differ from the queue itself");
        assertStartFails("rill.queues.orders.on-expiry=dead-letter",
                "rill.queues.orders: queue 'orders': onExpiry=DEAD_LETTER needs deadLetterQueue(name)");
        assertStartFails("rill.queues.orders.dead-letter-queue=has space",
                "rill.queues.orders.dead-letter-queue: deadLetterQueue must be 1..200 characters");
        assertStartFails("rill.queues[bad/name].capacity=5", "rill.queues.bad/name: name must be 1..200 characters");
    }

    @Test
    void contradictoryOrCyclicDeadLetterSettingsStopTheStart() {
        assertStartFails(new String[] {"rill.queues.orders.dead-letter-queue=dlq",
                "rill.queues.orders.discard-dead-letters=true"},
                "rill.queues.orders.discard-dead-letters: set either dead-letter-queue or discard-dead-letters=true");
        assertStartFails(new String[] {"rill.queues.a.dead-letter-queue=b", "rill.queues.b.dead-letter-queue=a"},
                "dead-letter queues form a cycle among [a, b]");
    }

    @Test
    void unknownEnumValuesStopTheStart() {
        runner.withPropertyValues("rill.queues.orders.ordering=sideways").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure())
                    .hasStackTraceContaining("Failed to bind properties under 'rill.queues.orders.ordering'")
                    .rootCause().hasMessageContaining("No enum constant dev.rill.core.Ordering.sideways");
        });
    }

    @Test
    void misspelledOrUnknownPropertiesStopTheStartRatherThanBeingIgnored() {
        // a typo in a queue option would otherwise leave the queue on QueueSpec's default without a word
        assertStartFails("rill.queues.orders.visibilty-timeout=5s", "rill.queues.orders.visibilty-timeout: no such "
                + "queue option; a queue's options are [capacity, dead-letter-queue, dedup-window, "
                + "discard-dead-letters, max-bytes, max-deliveries, message-ttl, on-expiry, ordering, overflow, "
                + "visibility-timeout]");
        assertStartFails("rill.urll=rill://127.0.0.1:7400", "rill.urll: no such property; the rill.* properties are "
                + "[rill.connect-timeout, rill.data-dir, rill.fsync, rill.health.timeout, rill.max-memory, "
                + "rill.metrics.enabled, "
                + "rill.metrics.refresh-interval, rill.queues.<queue>.<option>, rill.shutdown.drain-timeout, "
                + "rill.tls.bundle, rill.tls.certificate, rill.tls.enabled, rill.tls.private-key, "
                + "rill.tls.trust-certificates, rill.token, rill.url]");
        assertStartFails("rill.queues.orders.dead-letter-queue.name=dlq",
                "rill.queues.orders.dead-letter-queue.name: not a queue option");
        // checked whoever made the broker
        runner.withBean(ReactiveBroker.class, Rill::inMemory, d -> d.setDestroyMethodName("close"))
                .withPropertyValues("rill.tls.enable=true").run(context -> assertThat(rootCause(
                        context.getStartupFailure())).hasMessageStartingWith("rill.tls.enable: no such property"));
        // the names Rill knows still bind, queue names with dots included; an empty value is a property left unset
        runner.withPropertyValues("rill.queues[orders.v2].capacity=5", "rill.metrics.refresh-interval=1s",
                "rill.shutdown.drain-timeout=1s", "rill.health.timeout=2s", "rill.tls.enabled=false", "rill.url=",
                "rill.data-dir=")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(RillQueues.class).spec("orders.v2").capacity()).isEqualTo(5);
                });
    }

    @Test
    void queueNamesBindAsTheREADMESays() {
        // a key in a properties file is the name as written, a name with dots goes in brackets, an environment
        // variable gives a lower-case name
        runner.withPropertyValues("rill.queues.Orders.capacity=7", "rill.queues.work_items.capacity=8",
                        "rill.queues[work_items.V2].capacity=9")
                .withInitializer(c -> c.getEnvironment().getPropertySources().addFirst(
                        new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                                Map.of("RILL_QUEUES_PAYMENTS_CAPACITY", "4"))))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    RillQueues queues = context.getBean(RillQueues.class);
                    assertThat(new java.util.TreeSet<>(queues.specs().keySet())).hasToString("[Orders, payments, work_items, work_items.V2]");
                    assertThat(queues.spec("Orders").capacity()).isEqualTo(7);
                    assertThat(queues.spec("work_items").capacity()).isEqualTo(8);
                    assertThat(queues.spec("work_items.V2").capacity()).isEqualTo(9);
                    assertThat(queues.spec("payments").capacity()).isEqualTo(4);
                });
    }

    @Test
    void emptyValuesLeaveThePropertiesUnset() {
        // rill.token=${RILL_TOKEN:} and the like, with the variable unset: an in-memory broker, not "a token is set"
        runner.withPropertyValues("rill.url=", "rill.token=", "rill.data-dir=", "rill.fsync=", "rill.tls.bundle=",
                "rill.tls.trust-certificates=", "rill.tls.certificate=", "rill.tls.private-key=",
                "rill.queues.orders.dead-letter-queue=")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    RillProperties p = context.getBean(RillProperties.class);
                    assertThat(p.getToken()).isNull();
                    // rill.queues.orders.dead-letter-queue=${ORDERS_DLQ:}: no dead-letter queue, not a bad name
                    assertThat(context.getBean(RillQueues.class).spec("orders").deadLetterQueue()).isEmpty();
                    assertThat(p.getFsync()).isEqualTo("always");
                    assertThat(p.getTls().isEnabled()).isFalse();
                });
    }

    @Test
    void dataDirGivesADurableBrokerWhoseQueuesAndMessagesSurviveARestartOfTheApplication(@TempDir Path data) {
        ApplicationContextRunner durable = runner.withPropertyValues("rill.data-dir=" + data,
                "rill.queues.orders.max-deliveries=3", "rill.queues.orders.dead-letter-queue=orders-dlq",
                "rill.queues.audit.capacity=10");
        durable.run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(ManagedBroker.class);
            RillQueues queues = context.getBean(RillQueues.class);
            ReactiveQueue<String> orders = queues.queue("orders", Codec.utf8()).block(T);
            for (String p : List.of("one", "two", "three")) {
                orders.send(OutboundMessage.of(p)).block(T); // completes once on disk (fsync always)
            }
            orders.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(T); // "one" is gone for good
            orders.receiveOne(Duration.ZERO).flatMap(d -> d.reject("bad")).block(T); // "two" to orders-dlq
        });
        // the context closed the broker (synced, directory unlocked): a new application start finds everything
        durable.run(context -> {
            assertThat(context).hasNotFailed();
            ReactiveBroker broker = context.getBean(ReactiveBroker.class);
            // listed and counted before the application declares them again with its codec
            assertThat(broker.list().block(T)).containsExactly("orders", "orders-dlq");
            assertThat(broker.stats().block(T)).extracting(QueueStats::name, QueueStats::ready)
                    .containsExactly(tuple("orders", 1L), tuple("orders-dlq", 1L));
            ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8()).block(T);
            Delivery<String> d = orders.receiveOne(Duration.ZERO).block(T);
            String payload = d.payload(); // decoded with the application's codec, not as bytes
            assertThat(payload).isEqualTo("three");
            assertThat(d.deliveryCount()).isEqualTo(1);
            d.ack().block(T);
            ReactiveQueue<String> dlq = broker.queue(QueueSpec.named("orders-dlq"), Codec.utf8()).block(T);
            Message<String> dead = dlq.peek(10).blockFirst(T);
            assertThat(dead.payload()).isEqualTo("two");
            assertThat(dead.headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "bad");
        });
    }

    @Test
    void aDurableDeadLetterQueueDeclaredInThePropertiesGetsItsSettingsAndCanBeUsed(@TempDir Path data) {
        // the source queue's first use made the broker create orders-dlq with default settings: its capacity of 50
        // was ignored, and the application's own queue("orders-dlq") was refused as a different spec
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withPropertyValues("rill.data-dir=" + data, "rill.queues.orders.max-deliveries=3",
                        "rill.queues.orders.dead-letter-queue=orders-dlq", "rill.queues.orders-dlq.capacity=50")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    RillQueues queues = context.getBean(RillQueues.class);
                    ReactiveQueue<String> orders = queues.queue("orders", Codec.utf8()).block(T);
                    orders.send(OutboundMessage.of("bad")).block(T);
                    orders.receiveOne(Duration.ZERO).flatMap(d -> d.reject("no")).block(T);
                    assertThat(context.getBean(MeterRegistry.class).find(RillMetrics.SENT).tag("queue", "orders-dlq")
                            .counter()).as("its meters, bound with it").isNotNull();
                    ReactiveQueue<String> dlq = queues.queue("orders-dlq", Codec.utf8()).block(T);
                    assertThat(dlq.stats().block(T).capacity()).isEqualTo(50);
                    assertThat(dlq.receiveOne(Duration.ZERO).block(T).payload()).isEqualTo("bad");
                });
    }

    @Test
    void durableQueuesGetTheirMetersOnFirstUse(@TempDir Path data) {
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withPropertyValues("rill.data-dir=" + data, "rill.queues.orders.capacity=10",
                        "rill.metrics.refresh-interval=50ms", "rill.fsync=interval=20ms")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertThat(registry.find(RillMetrics.SENT).tag("queue", "orders").counter()).isNull();
                    ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8())
                            .block(T);
                    orders.send(OutboundMessage.of("a")).block(T);
                    await().atMost(T).untilAsserted(() -> assertThat(registry.get(RillMetrics.READY)
                            .tag("queue", "orders").gauge().value()).isEqualTo(1.0));
                });
    }

    @Test
    void badDurableSettingsStopTheStartNamingTheProperty(@TempDir Path data) throws Exception {
        assertStartFails(new String[] {"rill.data-dir=" + data, "rill.url=rill://127.0.0.1:1"},
                "rill.data-dir: both rill.data-dir and rill.url are set");
        assertStartFails("rill.fsync=never", "rill.fsync: rill.fsync=never is set but rill.data-dir is not");
        assertStartFails(new String[] {"rill.data-dir=" + data, "rill.fsync=sometimes"},
                "rill.fsync: 'sometimes' is not an fsync policy");
        assertStartFails(new String[] {"rill.data-dir=" + data, "rill.fsync=interval=0s"},
                "rill.fsync: 'interval=0s'");
        ReactiveBroker holder = Rill.embedded(data);
        try {
            runner.withPropertyValues("rill.data-dir=" + data).run(context -> {
                assertThat(context).hasFailed();
                RillConfigurationException e = (RillConfigurationException) rootCause(context.getStartupFailure());
                assertThat(e.property()).isEqualTo("rill.data-dir");
                assertThat(e).hasMessageContaining("cannot open the durable broker on " + data)
                        .hasMessageContaining("in use by another broker");
            });
        } finally {
            holder.close().block(T);
        }
        runner.withPropertyValues("rill.data-dir=" + data, "rill.fsync=interval=100")
                .run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void tokenOrTlsWithoutAUrlStopTheStartRatherThanBeingIgnored() {
        assertStartFails("rill.token=s3cret", "rill.token: a token is set but rill.url is not");
        assertStartFails("rill.tls.enabled=true", "rill.tls: TLS is configured but rill.url is not");
        assertStartFails("rill.tls.trust-certificates=classpath:ca.pem", "rill.tls: TLS is configured but rill.url");
    }

    @Test
    void aConnectTimeoutThatIsNotPositiveStopsTheStartWhateverTheBroker(@TempDir Path data) {
        // it also bounds declaring the queues and closing the broker: 0s would not wait for a durable log's sync
        assertStartFails("rill.connect-timeout=0s", "rill.connect-timeout: must be positive, was 0s");
        assertStartFails(new String[] {"rill.connect-timeout=-1s", "rill.data-dir=" + data},
                "rill.connect-timeout: must be positive");
        ReactiveBroker own = Rill.inMemory();
        runner.withBean(ReactiveBroker.class, () -> own).withPropertyValues("rill.connect-timeout=-1s",
                "rill.queues.orders.capacity=5").run(context -> assertThat(rootCause(context.getStartupFailure()))
                        .isInstanceOf(RillConfigurationException.class)
                        .hasMessageStartingWith("rill.connect-timeout: must be positive"));
        own.close().block(T);
    }

    @Test
    void maxMemoryBoundsWhatTheEmbeddedBrokersQueuesHoldTogether(@TempDir Path data) {
        for (String[] props : List.of(new String[] {"rill.max-memory=2KB", "rill.queues.a.overflow=fail",
                "rill.queues.b.overflow=fail"}, new String[] {"rill.max-memory=2KB", "rill.data-dir=" + data,
                        "rill.queues.a.overflow=fail", "rill.queues.b.overflow=fail"})) {
            runner.withPropertyValues(props).run(context -> {
                assertThat(context).hasNotFailed();
                ReactiveBroker broker = context.getBean(ReactiveBroker.class);
                assertThat(broker.memory().block(T).budget()).hasValue(2048);
                RillQueues queues = context.getBean(RillQueues.class);
                ReactiveQueue<byte[]> a = queues.queue("a", Codec.bytes()).block(T);
                ReactiveQueue<byte[]> b = queues.queue("b", Codec.bytes()).block(T);
                // 600 + 128 bytes each: two fit in 2 KiB, whichever queue they are in, a third does not
                a.send(OutboundMessage.of(new byte[600])).block(T);
                b.send(OutboundMessage.of(new byte[600])).block(T);
                assertThatThrownBy(() -> b.send(OutboundMessage.of(new byte[600])).block(T))
                        .isInstanceOf(QueueFullException.class);
                a.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(T); // frees room for b
                b.send(OutboundMessage.of(new byte[600])).block(T);
                assertThat(broker.memory().block(T).used()).isEqualTo(2 * (600 + BrokerOptions.MESSAGE_OVERHEAD_BYTES));
            });
        }
        runner.run(context -> assertThat(context.getBean(ReactiveBroker.class).memory().block(T).budget())
                .as("unset: no budget, as Rill.inMemory()").isEmpty());
    }

    @Test
    void aMaxMemoryTooSmallOrBesideAUrlStopsTheStart() {
        assertStartFails("rill.max-memory=100B", "rill.max-memory: must be more than 128 bytes");
        assertStartFails(new String[] {"rill.max-memory=64MB", "rill.url=rill://127.0.0.1:1"},
                "rill.max-memory: rill.max-memory is set and so is rill.url");
    }

    @Test
    void negativeDrainTimeoutStopsTheStart() {
        // the value as it is written in the properties, not as Duration prints it (PT-1S)
        assertStartFails("rill.shutdown.drain-timeout=-1s",
                "rill.shutdown.drain-timeout: must be zero or more, was -1s");
    }

    @Test
    void anApplicationBrokerReplacesTheAutoConfiguredOneAndIsLeftOpen() {
        ReactiveBroker own = Rill.inMemory();
        runner.withBean("myBroker", ReactiveBroker.class, () -> own)
                .withPropertyValues("rill.queues.orders.capacity=7")
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(ReactiveBroker.class)
                            .doesNotHaveBean(ManagedBroker.class).doesNotHaveBean("rillBroker");
                    assertThat(context.getBean(ReactiveBroker.class)).isSameAs(own);
                    // the declared queues live on the application's broker
                    assertThat(own.list().block(T)).containsExactly("orders");
                });
        // the starter closes only what it created
        assertThat(own.queue(QueueSpec.named("still-open"), Codec.utf8()).block(T).name()).isEqualTo("still-open");
        own.close().block(T);
    }

    @Test
    void anApplicationRillQueuesBeanReplacesTheAutoConfiguredOne() {
        runner.withUserConfiguration(OwnQueues.class).withPropertyValues("rill.queues.ignored.capacity=7")
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(RillQueues.class);
                    assertThat(context.getBean(RillQueues.class).specs()).containsOnlyKeys("mine");
                    assertThat(context.getBean(ReactiveBroker.class).list().block(T)).isEmpty();
                });
    }

    @Test
    void failureAnalyzerPrintsThePropertyToFix() {
        RillConfigurationException e = new RillConfigurationException("rill.data-dir", "in use by another broker");
        var analysis = new RillConfigurationFailureAnalyzer().analyze(new IllegalStateException("wrapper", e));
        assertThat(analysis.getDescription())
                .isEqualTo("Invalid Rill configuration: rill.data-dir: in use by another broker");
        assertThat(analysis.getAction()).contains("'rill.data-dir'");
        assertThat(analysis.getCause()).isSameAs(e);
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnQueues {
        @Bean
        RillQueues myQueues(ReactiveBroker broker) {
            return new RillQueues(broker, java.util.Map.of("mine", QueueSpec.named("mine")));
        }
    }

    private void assertStartFails(String property, String message) {
        assertStartFails(new String[] {property}, message);
    }

    private void assertStartFails(String[] properties, String message) {
        runner.withPropertyValues(properties).run(context -> {
            assertThat(context).hasFailed();
            Throwable root = rootCause(context.getStartupFailure());
            assertThat(root).isInstanceOf(RillConfigurationException.class).hasMessageContaining(message);
        });
    }

    /** The first RillConfigurationException in the chain (Spring wraps it in bean creation exceptions). */
    static Throwable rootCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof RillConfigurationException) {
                return c;
            }
        }
        return t;
    }
}
