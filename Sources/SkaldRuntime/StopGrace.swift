public import Logging
import ServiceLifecycle
public import SkaldKafka
import Synchronization

/// Gives up on a producer's deliveries when a graceful stop would otherwise wait for Kafka.
///
/// A `send` whose messages Kafka does not take waits out `message.timeout.ms` (60 s), and a
/// stop waiting for it would outlast a pod's grace period. ``watch()`` waits for the stop, lets
/// the senders have `grace`, then calls ``KafkaProducer/abandonUndelivered()`` every half
/// second until ``finish()`` (a round may queue its messages after one purge). The senders see
/// their messages fail with `_PURGE_*` codes and leave them where the next process finds them
/// (outbox rows, unstored offsets); a message purged in flight may have arrived after all, and
/// consumers drop the copy by its id.
///
/// Cancelled from outside (not by ``finish()``), it gives up at once: nothing should wait for
/// Kafka then either.
public final class StopGrace: Sendable {
    private let producer: KafkaProducer
    private let grace: Duration
    private let logger: Logger
    /// Senders that have not called ``finish()`` yet.
    private let running: Atomic<Int>
    /// Rung by ``finish()`` and by the stop, so that waits end early.
    private let doorbell = Wakeup()

    /// A watch over `producer`'s deliveries that gives them `grace` once a stop begins, until
    /// `senders` tasks have each called ``finish()``.
    public init(producer: KafkaProducer, grace: Duration, senders: Int = 1, logger: Logger) {
        self.producer = producer
        self.grace = grace
        self.running = Atomic(max(1, senders))
        self.logger = logger
    }

    /// Says that one sender is done; once all are, ``watch()`` gives up on nothing more and returns.
    public func finish() {
        running.subtract(1, ordering: .acquiringAndReleasing)
        doorbell.ring()
    }

    /// Waits for a graceful stop, then gives up on undelivered messages until every sender has
    /// called ``finish()``. Run it beside the senders; it returns soon after they are done.
    public func watch() async {
        // The stop, the senders' end (without a stop: they failed) or a cancellation.
        await withGracefulShutdownHandler {
            while sending && !Task.isShuttingDownGracefully && !Task.isCancelled {
                await doorbell.wait(timeout: .seconds(60))
            }
        } onGracefulShutdown: {
            self.doorbell.ring()
        }
        // The grace, unless the senders finish first; a cancellation ends it at once.
        let deadline = ContinuousClock.now.advanced(by: grace)
        while sending && !Task.isCancelled && ContinuousClock.now < deadline {
            await doorbell.wait(timeout: deadline - ContinuousClock.now)
        }
        while sending {
            let abandoned = await producer.abandonUndelivered()
            if abandoned > 0 {
                logger.warning(
                    "Kafka has not taken \(abandoned) messages in the stop's grace (\(grace)); gave up on them, they are sent again by the next process")
            }
            // Not cut short by cancellation, which would make this a busy loop.
            await Task.detached { try? await Task.sleep(for: .milliseconds(500)) }.value
        }
    }

    private var sending: Bool { running.load(ordering: .acquiring) > 0 }
}
