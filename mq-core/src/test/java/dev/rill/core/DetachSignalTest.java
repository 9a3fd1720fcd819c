package dev.rill.core;

import static dev.rill.core.RecoveryTestSupport.QUIET;
import static dev.rill.core.RecoveryTestSupport.locksHeld;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A durable broker detaches a queue's journal under the journals' bin lock (a deleted queue, or the queue a new one
 * replaces, so that the name's DELETE is logged before the next DECLARE); the signals the detach owes the queue's
 * listener (user code) are fired after that lock, and after the queue map's.
 */
class DetachSignalTest {

    @TempDir
    Path dir;

    /**
     * Records the locks held in each writable signal, and flags the queue's inbox again each time: the state a send
     * refused without the lock leaves when its flag lands after the close's and the purge's look at it (a push that
     * read the head before the close), set by hand since no test can stop a thread inside the push.
     */
    private static final class Recorder implements QueueListener {
        final List<List<String>> writable = new ArrayList<>();
        final MessageQueue<?> queue;

        Recorder(MessageQueue<?> queue) {
            this.queue = queue;
        }

        @Override
        public void onWritable() {
            writable.add(locksHeld());
            queue.inbox.refused = 1;
        }
    }

    /**
     * A queue made while the broker closes (not journaled, so its sends push without the lock) and then deleted: the
     * writable signal its detach owes comes with no lock held. Before, it came inside the journals' compute, under
     * the bin lock (a listener that declared or deleted a queue of the same bin there would deadlock or fail with
     * "Recursive update").
     */
    @Test
    void aDeletedQueuesDetachSignalsWithNoLockHeld() throws Exception {
        DurableBroker b = DurableBroker.open(dir, QUIET);
        b.declare(QueueSpec.named("q"), Codec.utf8());
        b.close();
        MessageQueue<String> q = b.broker().declare(QueueSpec.named("q")); // the closed one made again: not journaled
        assertThat(q.inbox).isNotNull();
        Recorder r = new Recorder(q);
        q.setListener(r);
        q.inbox.refused = 1;
        assertThat(b.broker().delete("q", 0)).isTrue();
        assertThat(r.writable).hasSizeGreaterThanOrEqualTo(2).allSatisfy(held -> assertThat(held).isEmpty());
    }

    /**
     * A closed queue replaced by a new declaration of its name: the signals its detach owes come after the locks of
     * the journals and of the queue map. (A journaled queue never pushes, so it has none today; the flag is set by
     * hand, as above.)
     */
    @Test
    void aReplacedQueuesDetachSignalsWithNoLockHeld() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            MessageQueue<String> old = b.declare(QueueSpec.named("q"), Codec.utf8());
            old.close();
            Recorder r = new Recorder(old);
            old.setListener(r);
            old.inbox.refused = 1;
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), Codec.utf8());
            assertThat(q).isNotSameAs(old);
            assertThat(r.writable).hasSize(1).allSatisfy(held -> assertThat(held).isEmpty());
        }
    }

    /**
     * The natural paths, with nothing set by hand: a full journaled queue that refused a send, closed and declared
     * again, or deleted while a sender waits, signals its listener only outside every lock.
     */
    @Test
    void aJournaledQueueSignalsOutsideEveryLockWhenReplacedOrDeleted() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            List<List<String>> held = new ArrayList<>();
            QueueListener listener = new QueueListener() {
                @Override
                public void onWritable() {
                    held.add(locksHeld());
                }

                @Override
                public void onReadable() {
                    held.add(locksHeld());
                }
            };
            for (boolean delete : new boolean[] {false, true}) {
                MessageQueue<String> q = b.declare(QueueSpec.named("q").capacity(1), Codec.utf8());
                q.setListener(listener);
                q.send(OutboundMessage.of("m"), 0);
                assertThat(q.send(OutboundMessage.of("refused"), 0).status()).isEqualTo(SendOutcome.Status.FULL);
                if (delete) {
                    b.broker().delete("q", 0);
                } else {
                    q.close();
                    b.declare(QueueSpec.named("q").capacity(1), Codec.utf8());
                }
            }
            assertThat(held).isNotEmpty().allSatisfy(h -> assertThat(h).isEmpty());
        }
    }
}
