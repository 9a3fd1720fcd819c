package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Runs seeded random operation sequences against {@link MessageQueue} and {@link ReferenceModel} side by side and
 * compares every observable result (outcomes, leases, events, stats, next deadline, dead letters) after every
 * step, while also checking invariants on the implementation alone (nothing vanishes, one holder per lease,
 * stale handles change nothing, FIFO per key and priority, delivery counts never decrease, capacity holds).
 *
 * <p>Replay one sequence with {@code -Drill.model.seed=N}; run more with {@code -Drill.model.sequences=N}.
 */
class ModelBasedTest {

    private static final int DEFAULT_SEQUENCES = 2500;
    private static final String[] KEYS = {"a", "b", "c", "d"};
    private static final String[] DEDUP_IDS = {"x", "y", "z"};

    @Test
    void implementationMatchesReferenceModel() {
        runAll(false, DEFAULT_SEQUENCES);
    }

    /**
     * The class contract: "the observable state depends on the calls and their times only, not on whether
     * advance ran". A twin queue gets the same calls, but is also advanced at every deadline it reports in
     * between; both must answer alike.
     */
    @Test
    void observableStateDoesNotDependOnAdvance() {
        runAll(true, DEFAULT_SEQUENCES / 5);
    }

    private static void runAll(boolean twin, int defaultSequences) {
        Map<String, Integer> coverage = new HashMap<>();
        String one = System.getProperty("rill.model.seed");
        if (one != null) {
            new Run(Long.parseLong(one), twin, coverage).execute();
            return;
        }
        int sequences = Integer.getInteger("rill.model.sequences", defaultSequences);
        long steps = 0;
        for (long seed = 1; seed <= sequences; seed++) {
            steps += new Run(seed, twin, coverage).execute();
        }
        assertThat(steps).as("steps run").isGreaterThan(sequences * 20L);
        // the generator reaches every path: each event type, send outcome and lease outcome occurs
        for (QueueEvent.Type t : QueueEvent.Type.values()) {
            if (t != QueueEvent.Type.REDRIVEN) {
                assertThat(coverage.getOrDefault(t.name(), 0)).as("event " + t + " seen").isGreaterThan(10);
            }
        }
        for (String o : List.of("ENQUEUED", "DUPLICATE", "FULL", "OK", "STALE", "ttl-dead-letter", "max-deliveries",
                "key-held-skip", "priority-jump")) {
            assertThat(coverage.getOrDefault(o, 0)).as(o + " seen").isGreaterThan(10);
        }
    }

    /** A handle pair: the implementation's and the model's, plus what the test itself knows about the lease. */
    private static final class H {
        final ReceiptHandle real;
        ReceiptHandle twin;
        final ReferenceModel.Handle model;
        final long id;
        final String key;
        long deadline;
        boolean settled;

        H(ReceiptHandle real, ReferenceModel.Handle model, long id, String key, long deadline) {
            this.real = real;
            this.model = model;
            this.id = id;
            this.key = key;
            this.deadline = deadline;
        }
    }

    /** One seeded sequence. */
    private static final class Run implements QueueListener {
        final long seed;
        final Random rnd;
        final QueueSpec spec;
        final Broker broker;
        final MessageQueue<String> q;
        final MessageQueue<String> dlq; // null when dead letters are discarded
        final ReferenceModel model;
        final MessageQueue<String> twin; // null unless checking advance-independence
        final Map<String, Integer> coverage;
        final List<QueueEvent> realEvents = new ArrayList<>();
        final List<H> handles = new ArrayList<>();
        final StringBuilder trace = new StringBuilder();
        long now;
        int step;

        // invariant bookkeeping, from the implementation's observable behaviour only
        final Set<Long> enqueued = new HashSet<>();
        final Set<Long> delayedSends = new HashSet<>();
        final Map<Long, String> keyOf = new HashMap<>();
        final Map<Long, Integer> priorityOf = new HashMap<>();
        final Set<Long> gone = new HashSet<>();
        final Set<Long> deadLetteredIds = new HashSet<>();
        final Map<Long, H> latest = new HashMap<>();
        final Map<Long, Integer> lastCount = new HashMap<>();
        final Set<Long> seenDelivered = new HashSet<>();
        final Map<String, Long> lastFirstDelivery = new HashMap<>();
        long queueClock = Long.MIN_VALUE;
        String lastDetail;

        Run(long seed, boolean withTwin, Map<String, Integer> coverage) {
            this.seed = seed;
            this.coverage = coverage;
            this.rnd = new Random(seed * 0x9E3779B97F4A7C15L + 17);
            QueueSpec s = QueueSpec.named("q")
                    .ordering(rnd.nextBoolean() ? Ordering.FIFO : Ordering.KEY_ORDERED)
                    .capacity(1 + rnd.nextInt(8))
                    .visibilityTimeout(Duration.ofMillis(5 + rnd.nextInt(46)))
                    .dedupWindow(Duration.ofMillis(5 + rnd.nextInt(60)));
            int dl = rnd.nextInt(4); // 0: nothing, 1: discard, 2-3: dead-letter queue
            if (dl == 1) {
                s = s.maxDeliveries(1 + rnd.nextInt(4)).discardDeadLetters();
            } else if (dl >= 2) {
                s = s.deadLetterQueue("dlq");
                if (rnd.nextInt(4) != 0) {
                    s = s.maxDeliveries(1 + rnd.nextInt(4));
                }
                if (rnd.nextInt(3) == 0) {
                    s = s.onExpiry(ExpiryAction.DEAD_LETTER);
                }
            }
            if (rnd.nextInt(4) == 0) {
                s = s.messageTtl(Duration.ofMillis(20 + rnd.nextInt(150)));
            }
            if (rnd.nextInt(4) == 0) {
                s = s.maxBytes(10 + rnd.nextInt(30));
            }
            this.spec = s;
            this.broker = Broker.create();
            this.q = broker.declare(spec);
            this.dlq = spec.deadLetterQueue().isPresent() ? broker.<String>get("dlq").orElseThrow() : null;
            this.model = new ReferenceModel(spec);
            this.now = rnd.nextInt(1000);
            q.setListener(this);
            this.twin = withTwin ? Broker.create().declare(spec) : null;
        }

        @Override
        public boolean wantsEvents() {
            return true;
        }

        @Override
        public void onEvents(List<QueueEvent> events) {
            realEvents.addAll(events);
        }

        int execute() {
            int steps = 20 + rnd.nextInt(180);
            for (step = 1; step <= steps; step++) {
                try {
                    oneStep();
                    checkState();
                } catch (AssertionError | RuntimeException e) {
                    AssertionError err = new AssertionError("model-based test failed: seed=" + seed + " step=" + step
                            + " (replay with -Drill.model.seed=" + seed + ")\nspec: " + describe(spec)
                            + "\nmodel messages: " + model.msgs + "\ntrace:\n" + trace + "\n" + e.getMessage());
                    err.initCause(e);
                    throw err;
                }
            }
            return steps;
        }

        // ------------------------------------------------------------------------------------------- steps

        void oneStep() {
            int r = rnd.nextInt(100);
            long t = rnd.nextInt(10) == 0 ? now - rnd.nextInt(20) : now; // sometimes a clock that went back
            if (r < 28) {
                send(t);
            } else if (r < 31) {
                sendAll(t);
            } else if (r < 50) {
                receive(t);
            } else if (r < 62) {
                settle("ack", t);
            } else if (r < 64) {
                ackAll(t);
            } else if (r < 71) {
                settle("nack", t);
            } else if (r < 75) {
                settle("extend", t);
            } else if (r < 78) {
                settle("reject", t);
            } else if (r < 82) {
                settle("release", t);
            } else if (r < 96) {
                now += rnd.nextInt(5) == 0 ? 20 + rnd.nextInt(60) : rnd.nextInt(8);
                log("time -> " + now);
            } else if (r < 99) {
                log("advance(" + t + ")");
                effectiveNow(t);
                long real = q.advance(t);
                long exp = model.advance(t);
                assertThat(real).as("advance() next deadline").isEqualTo(exp);
                if (twin != null) {
                    twinAt(t).advance(t);
                }
            } else if (rnd.nextInt(4) == 0) {
                log("purge(" + t + ")");
                long n = q.purge(t);
                assertThat(n).as("purge count").isEqualTo(model.purge(t));
                if (twin != null) {
                    assertThat(twinAt(t).purge(t)).as("twin purge count").isEqualTo(n);
                }
                effectiveNow(t);
                for (H h : handles) {
                    h.settled = true;
                }
            } else {
                receive(t);
            }
        }

        OutboundMessage<String> randomMessage() {
            OutboundMessage<String> m = OutboundMessage.of("abcde".substring(0, 1 + rnd.nextInt(5)));
            if (rnd.nextInt(10) < 7) {
                m = m.key(KEYS[rnd.nextInt(KEYS.length)]);
            }
            int pr = rnd.nextInt(10);
            if (pr >= 6) {
                m = m.priority(pr == 9 ? OutboundMessage.MAX_PRIORITY : pr - 5);
            }
            if (rnd.nextInt(4) == 0) {
                m = m.delay(Duration.ofMillis(1 + rnd.nextInt(30)));
            }
            if (rnd.nextInt(5) == 0) {
                m = m.ttl(Duration.ofMillis(5 + rnd.nextInt(100)));
            }
            if (rnd.nextInt(10) < 3) {
                m = m.dedupId(DEDUP_IDS[rnd.nextInt(DEDUP_IDS.length)]);
            }
            return m;
        }

        void send(long t) {
            OutboundMessage<String> m = randomMessage();
            log("send(" + m + ", " + t + ")");
            effectiveNow(t);
            long sizeBefore = q.size();
            SendOutcome real = q.send(m, t);
            ReferenceModel.Outcome exp = model.send(m, t);
            if (twin != null) {
                assertThat(twinAt(t).send(m, t)).as("twin send").isEqualTo(real);
            }
            assertThat(real.status()).as("send status").isEqualTo(exp.status());
            assertThat(real.messageId()).as("send id").isEqualTo(exp.id());
            onSent(m, real, sizeBefore);
        }

        void sendAll(long t) {
            List<OutboundMessage<String>> ms = new ArrayList<>();
            int n = 1 + rnd.nextInt(4);
            for (int i = 0; i < n; i++) {
                ms.add(randomMessage());
            }
            log("sendAll(" + ms + ", " + t + ")");
            effectiveNow(t);
            List<SendOutcome> real = q.sendAll(ms, t);
            List<ReferenceModel.Outcome> exp = model.sendAll(ms, t);
            if (twin != null) {
                assertThat(twinAt(t).sendAll(ms, t)).as("twin sendAll").isEqualTo(real);
            }
            assertThat(real).hasSameSizeAs(exp);
            for (int i = 0; i < n; i++) {
                assertThat(real.get(i).status()).as("sendAll status " + i).isEqualTo(exp.get(i).status());
                assertThat(real.get(i).messageId()).as("sendAll id " + i).isEqualTo(exp.get(i).id());
                onSent(ms.get(i), real.get(i), -1);
            }
        }

        void onSent(OutboundMessage<String> m, SendOutcome o, long sizeBefore) {
            cover(o.status().name());
            if (o.status() == SendOutcome.Status.ENQUEUED) {
                assertThat(enqueued.add(o.messageId())).as("fresh id").isTrue();
                keyOf.put(o.messageId(), spec.ordering() == Ordering.KEY_ORDERED ? m.key() : null);
                priorityOf.put(o.messageId(), m.priority());
                if (!m.delay().isZero()) {
                    delayedSends.add(o.messageId());
                }
            } else if (o.status() == SendOutcome.Status.DUPLICATE) {
                assertThat(enqueued).as("duplicate names a sent message").contains(o.messageId());
            } else if (o.status() == SendOutcome.Status.FULL && sizeBefore >= 0) {
                assertThat(sizeBefore >= spec.capacity() || spec.maxBytes().isPresent())
                        .as("FULL only at capacity or byte limit").isTrue();
            }
        }

        void receive(long t) {
            int max = 1 + rnd.nextInt(4);
            boolean custom = rnd.nextInt(6) == 0;
            long vis = custom ? 1 + rnd.nextInt(60) : model.visibility;
            log("receive(" + max + (custom ? ", vis=" + vis : "") + ", " + t + ")");
            List<Lease<String>> real = custom ? q.receive(max, Duration.ofMillis(vis), t) : q.receive(max, t);
            // before the receive: is some key's message skipped because the key is held, or a higher priority first?
            noteReceiveShape();
            List<ReferenceModel.LeaseView> exp = model.receive(max, vis, t);
            List<Lease<String>> twinLeases = null;
            if (twin != null) {
                MessageQueue<String> tw = twinAt(t);
                twinLeases = custom ? tw.receive(max, Duration.ofMillis(vis), t) : tw.receive(max, t);
                assertThat(twinLeases.stream().map(l -> l.message().id()).toList()).as("twin received ids")
                        .isEqualTo(real.stream().map(l -> l.message().id()).toList());
            }
            List<Long> realIds = real.stream().map(l -> l.message().id()).toList();
            List<Long> expIds = exp.stream().map(ReferenceModel.LeaseView::id).toList();
            assertThat(realIds).as("received ids, in order").isEqualTo(expIds);
            long eff = effectiveNow(t);
            for (int i = 0; i < real.size(); i++) {
                Lease<String> l = real.get(i);
                ReferenceModel.LeaseView v = exp.get(i);
                Message<String> m = l.message();
                assertThat(m.payload()).isEqualTo(v.payload());
                assertThat(m.key()).isEqualTo(v.key());
                assertThat(m.priority()).isEqualTo(v.priority());
                assertThat(m.timestamp()).isEqualTo(v.timestamp());
                assertThat(l.deliveryCount()).as("delivery count of #" + m.id()).isEqualTo(v.deliveryCount());
                assertThat(l.deadline()).as("deadline of #" + m.id()).isEqualTo(v.deadline());
                assertThat(l.handle().messageId()).isEqualTo(m.id());
                assertThat(l.handle().deliveryCount()).isEqualTo(l.deliveryCount());
                onLeased(l, v, eff);
                if (twinLeases != null) {
                    assertThat(twinLeases.get(i).deliveryCount()).as("twin delivery count").isEqualTo(l.deliveryCount());
                    handles.get(handles.size() - 1).twin = twinLeases.get(i).handle();
                }
            }
        }

        void onLeased(Lease<String> l, ReferenceModel.LeaseView v, long eff) {
            long id = l.message().id();
            assertThat(enqueued).as("leased id was sent").contains(id);
            assertThat(gone).as("leased message #" + id + " was already deleted").doesNotContain(id);
            // one holder at a time: every earlier handle of this message is over
            H prev = latest.get(id);
            if (prev != null) {
                assertThat(prev.settled || prev.deadline <= eff)
                        .as("#" + id + " leased again while its previous lease (deadline " + prev.deadline
                                + ") still runs at " + eff).isTrue();
            }
            // delivery counts never decrease
            Integer before = lastCount.get(id);
            assertThat(l.deliveryCount()).as("delivery count of #" + id).isGreaterThanOrEqualTo(before == null ? 1 : before);
            lastCount.put(id, l.deliveryCount());
            if (spec.maxDeliveries().isPresent()) {
                assertThat(l.deliveryCount()).isLessThanOrEqualTo(spec.maxDeliveries().getAsInt());
            }
            // FIFO: first deliveries of never-delayed messages follow send order per key, else per priority
            if (seenDelivered.add(id) && !delayedSends.contains(id)) {
                String lane = keyOf.get(id) != null ? "key:" + keyOf.get(id) : "prio:" + priorityOf.get(id);
                Long last = lastFirstDelivery.put(lane, id);
                assertThat(last == null || last < id).as("FIFO in " + lane + ": #" + id + " after #" + last).isTrue();
            }
            H h = new H(l.handle(), v.handle(), id, keyOf.get(id), l.deadline());
            handles.add(h);
            latest.put(id, h);
            // key-ordered: at most one live lease per key
            if (h.key != null) {
                for (H other : latest.values()) {
                    if (other != h && Objects.equals(other.key, h.key) && live(other, eff)) {
                        throw new AssertionError("key " + h.key + " leased twice: #" + other.id + " and #" + id);
                    }
                }
            }
        }

        boolean live(H h, long eff) {
            return !h.settled && latest.get(h.id) == h && h.deadline > eff;
        }

        H pickHandle() {
            if (handles.isEmpty()) {
                return null;
            }
            int n = handles.size();
            return rnd.nextInt(4) == 0 ? handles.get(rnd.nextInt(n)) : handles.get(n - 1 - rnd.nextInt(Math.min(n, 6)));
        }

        void settle(String op, long t) {
            H h = pickHandle();
            if (h == null) {
                return;
            }
            long eff = effectiveNow(t);
            boolean wasLive = live(h, eff);
            long sizeBefore = q.size();
            long ackedBefore = q.stats().acked();
            LeaseOutcome real;
            LeaseOutcome exp;
            switch (op) {
                case "ack" -> {
                    log("ack(#" + h.id + ", " + t + ")");
                    real = q.ack(h.real, t);
                    exp = model.ack(h.model, t);
                }
                case "nack" -> {
                    long d = rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(30);
                    lastDetail = Long.toString(d);
                    log("nack(#" + h.id + ", " + d + ", " + t + ")");
                    real = q.nack(h.real, Duration.ofMillis(d), t);
                    exp = model.nack(h.model, d, t);
                }
                case "extend" -> {
                    long d = 1 + rnd.nextInt(60);
                    lastDetail = Long.toString(d);
                    log("extend(#" + h.id + ", " + d + ", " + t + ")");
                    real = q.extend(h.real, Duration.ofMillis(d), t);
                    exp = model.extend(h.model, d, t);
                    if (real == LeaseOutcome.OK) {
                        h.deadline = eff + d;
                    }
                }
                case "reject" -> {
                    log("reject(#" + h.id + ", " + t + ")");
                    real = q.reject(h.real, "bad", t);
                    exp = model.reject(h.model, "bad", t);
                }
                default -> {
                    log("release(#" + h.id + ", " + t + ")");
                    real = q.release(h.real, t);
                    exp = model.release(h.model, t);
                }
            }
            assertThat(real).as(op + " outcome").isEqualTo(exp);
            if (twin != null) {
                MessageQueue<String> tw = twinAt(t);
                LeaseOutcome o = switch (op) {
                    case "ack" -> tw.ack(h.twin, t);
                    case "nack" -> tw.nack(h.twin, Duration.ofMillis(Long.parseLong(lastDetail)), t);
                    case "extend" -> tw.extend(h.twin, Duration.ofMillis(Long.parseLong(lastDetail)), t);
                    case "reject" -> tw.reject(h.twin, "bad", t);
                    default -> tw.release(h.twin, t);
                };
                assertThat(o).as("twin " + op + " outcome").isEqualTo(real);
            }
            onSettled(h, op, real, wasLive, sizeBefore, ackedBefore);
        }

        void ackAll(long t) {
            List<H> hs = new ArrayList<>();
            int n = 1 + rnd.nextInt(3);
            for (int i = 0; i < n && !handles.isEmpty(); i++) {
                hs.add(pickHandle());
            }
            if (hs.isEmpty()) {
                return;
            }
            log("ackAll(" + hs.stream().map(h -> "#" + h.id).toList() + ", " + t + ")");
            long eff = effectiveNow(t);
            List<Boolean> wasLive = new ArrayList<>();
            for (H h : hs) {
                wasLive.add(live(h, eff));
            }
            List<LeaseOutcome> real = q.ackAll(hs.stream().map(h -> h.real).toList(), t);
            List<LeaseOutcome> exp = model.ackAll(hs.stream().map(h -> h.model).toList(), t);
            assertThat(real).as("ackAll outcomes").isEqualTo(exp);
            if (twin != null) {
                assertThat(twinAt(t).ackAll(hs.stream().map(h -> h.twin).toList(), t)).as("twin ackAll").isEqualTo(real);
            }
            for (int i = 0; i < hs.size(); i++) {
                H h = hs.get(i);
                boolean live = wasLive.get(i) && !hs.subList(0, i).contains(h);
                onSettled(h, "ack", real.get(i), live, -1, -1);
            }
        }

        void onSettled(H h, String op, LeaseOutcome real, boolean wasLive, long sizeBefore, long ackedBefore) {
            cover(real.name());
            if (real == LeaseOutcome.OK) {
                // stale handles never act: OK only for the latest, unsettled, unexpired lease
                assertThat(wasLive).as(op + " of #" + h.id + " returned OK for a handle that is over").isTrue();
                if (!op.equals("extend")) {
                    h.settled = true;
                }
            } else {
                assertThat(wasLive).as(op + " of #" + h.id + " returned STALE for a running lease").isFalse();
                if (sizeBefore >= 0 && op.equals("ack") && !wasLive) {
                    assertThat(q.stats().acked()).as("a stale ack deletes nothing").isEqualTo(ackedBefore);
                }
            }
        }

        void cover(String what) {
            coverage.merge(what, 1, Integer::sum);
        }

        /** Advances the twin through every deadline it reports before {@code t}, one call per deadline. */
        MessageQueue<String> twinAt(long t) {
            long d;
            while ((d = twin.nextDeadline()) < t) {
                twin.advance(d);
            }
            return twin;
        }

        /** The queue's clock after a call at {@code t}: calls with an earlier time count as the latest seen. */
        long effectiveNow(long t) {
            queueClock = Math.max(queueClock, t);
            return queueClock;
        }

        void log(String s) {
            trace.append(step).append(": ").append(s).append('\n');
        }

        // ------------------------------------------------------------------------------------------- compare

        void checkState() {
            assertThat(realEvents).as("events").isEqualTo(model.events);
            for (QueueEvent e : realEvents) {
                cover(e.type().name());
                if (e.type() == QueueEvent.Type.DEAD_LETTERED) {
                    cover(e.detail().startsWith("max") ? "max-deliveries" : e.detail().equals("expired") ? "ttl-dead-letter" : "rejected");
                }
                switch (e.type()) {
                    case ACKED -> assertThat(gone.add(e.messageId())).as("#" + e.messageId() + " deleted twice").isTrue();
                    case DEAD_LETTERED -> {
                        assertThat(gone.add(e.messageId())).as("#" + e.messageId() + " deleted twice").isTrue();
                        deadLetteredIds.add(e.messageId());
                    }
                    case TTL_EXPIRED -> {
                        if (spec.expiryAction() == ExpiryAction.DROP) {
                            assertThat(gone.add(e.messageId())).as("#" + e.messageId() + " deleted twice").isTrue();
                        }
                    }
                    case PURGED -> gone.addAll(enqueued);
                    default -> {
                    }
                }
            }
            realEvents.clear();
            model.events.clear();

            QueueStats stats = q.stats();
            assertThat(stats).as("stats").isEqualTo(model.stats());
            if (twin != null) {
                QueueStats ts = twin.stats();
                assertThat(new long[] {ts.ready(), ts.inFlight(), ts.delayed(), ts.bytes(), ts.sent(), ts.acked(),
                        ts.delivered(), ts.deadLettered(), ts.expired()}).as("twin stats " + ts)
                        .containsExactly(stats.ready(), stats.inFlight(), stats.delayed(), stats.bytes(), stats.sent(),
                                stats.acked(), stats.delivered(), stats.deadLettered(), stats.expired());
            }
            assertThat(q.size()).isEqualTo(stats.size());
            assertThat(q.nextDeadline()).as("nextDeadline").isEqualTo(model.nextDeadline());
            // capacity is never exceeded by sends
            assertThat(stats.size()).as("size within capacity").isLessThanOrEqualTo(spec.capacity());
            assertThat(stats.bytes()).as("bytes within maxBytes").isLessThanOrEqualTo(spec.maxBytes().orElse(Long.MAX_VALUE));
            // nothing vanishes: every enqueued message is acked, dead-lettered, expired, purged or still held
            assertThat(stats.sent()).isEqualTo(enqueued.size());
            assertThat(stats.sent()).as("conservation")
                    .isEqualTo(stats.size() + stats.acked() + stats.deadLettered() + stats.expired() + stats.purged());
            long present = enqueued.stream().filter(id -> !gone.contains(id)).count();
            assertThat(present).as("messages neither deleted nor purged").isEqualTo(stats.size());
            for (ReferenceModel.Msg m : model.msgs) {
                assertThat(m.state != ReferenceModel.State.GONE).as("#" + m.id + " present")
                        .isEqualTo(!gone.contains(m.id));
            }
            if (dlq != null) {
                assertThat(dlq.size()).as("dead-letter queue size").isEqualTo(deadLetteredIds.size());
                if (dlq.size() != model.deadLetters.size() || step % 16 == 0) {
                    compareDeadLetters();
                }
            }
        }

        /** Coverage only: notes whether this receive has to skip a held key, or serves a higher priority first. */
        void noteReceiveShape() {
            Set<String> held = new HashSet<>();
            Set<Integer> prios = new HashSet<>();
            for (ReferenceModel.Msg m : model.msgs) {
                if (m.key != null && m.state == ReferenceModel.State.LEASED) {
                    held.add(m.key);
                }
                if (m.state == ReferenceModel.State.READY) {
                    prios.add(m.priority);
                }
            }
            for (ReferenceModel.Msg m : model.msgs) {
                if (m.state == ReferenceModel.State.READY && m.key != null && held.contains(m.key)) {
                    cover("key-held-skip");
                    break;
                }
            }
            if (prios.size() > 1) {
                cover("priority-jump");
            }
        }

        void compareDeadLetters() {
            List<Message<String>> real = dlq.peek(10_000);
            List<ReferenceModel.DeadLetterView> exp = model.deadLettersInDeliveryOrder();
            assertThat(real).as("dead letters").hasSameSizeAs(exp);
            for (int i = 0; i < real.size(); i++) {
                Message<String> m = real.get(i);
                ReferenceModel.DeadLetterView v = exp.get(i);
                assertThat(m.headers().get(Message.HEADER_ORIGINAL_ID)).as("dead letter " + i)
                        .isEqualTo(Long.toString(v.originalId()));
                assertThat(deadLetteredIds).contains(v.originalId());
                assertThat(m.payload()).isEqualTo(v.payload());
                assertThat(m.key()).as("dead letter key").isEqualTo(v.key());
                assertThat(m.priority()).isEqualTo(v.priority());
                assertThat(m.headers().get(Message.HEADER_DEAD_LETTER_REASON)).isEqualTo(v.reason());
                assertThat(m.headers().get(Message.HEADER_DELIVERY_COUNT)).isEqualTo(Integer.toString(v.deliveryCount()));
                assertThat(m.headers().get(Message.HEADER_SOURCE_QUEUE)).isEqualTo("q");
            }
        }
    }

    private static String describe(QueueSpec s) {
        return s.ordering() + " capacity=" + s.capacity() + " visibility=" + s.visibilityTimeout().toMillis()
                + "ms dedup=" + s.dedupWindow().toMillis() + "ms maxDeliveries=" + s.maxDeliveries() + " dlq="
                + s.deadLetterQueue().orElse(s.discardsDeadLetters() ? "(discard)" : "-") + " ttl="
                + s.messageTtl().map(Duration::toMillis).orElse(0L) + " onExpiry=" + s.expiryAction() + " maxBytes="
                + s.maxBytes();
    }
}
