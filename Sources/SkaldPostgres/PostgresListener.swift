import CLibPQ
import Foundation
import SkaldSystem

/// A notification delivered by `NOTIFY` / `pg_notify`.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel it was sent on.
    public var channel: String
    /// The payload (empty if none was given).
    public var payload: String
    /// The process id of the backend that sent it.
    public var senderPID: Int32
}

/// Receives `LISTEN` notifications on a dedicated connection.
///
/// The connection's own thread sleeps in `poll` on the socket (and on a wake-up pipe
/// used by ``stop()``), so notifications arrive as soon as the server sends them without
/// polling loops or cooperative-pool threads blocked.
///
/// ```swift
/// let listener = try await PostgresListener.connect(to: url, channels: ["saga_wakeup"])
/// for try await note in listener.notifications { … }
/// ```
public final class PostgresListener: Sendable {
    /// The notifications, in the order the server sent them. The stream finishes after
    /// ``stop()``, and throws a `.connectionLost` error if the connection breaks.
    public let notifications: AsyncThrowingStream<PostgresNotification, any Error>
    private let wakeUp: WakeUpPipe

    private init(notifications: AsyncThrowingStream<PostgresNotification, any Error>, wakeUp: WakeUpPipe) {
        self.notifications = notifications
        self.wakeUp = wakeUp
    }

    deinit { stop() }

    /// Connects and subscribes to `channels`; notifications sent after this returns are delivered.
    ///
    /// - Throws: `.connection` if the server cannot be reached, `.invalidArgument` for an empty
    ///   channel list or name, `.query` if `LISTEN` fails.
    public static func connect(
        to urlOrConninfo: String,
        channels: [String],
        connectTimeout: Int = 10
    ) async throws -> PostgresListener {
        guard !channels.isEmpty, channels.allSatisfy({ !$0.isEmpty && !$0.utf8.contains(0) }) else {
            throw PostgresError(code: .invalidArgument, message: "LISTEN needs at least one non-empty channel name, got \(channels)")
        }
        let wakeUp = try WakeUpPipe()
        let (stream, continuation) = AsyncThrowingStream<PostgresNotification, any Error>.makeStream()
        let listener = PostgresListener(notifications: stream, wakeUp: wakeUp)
        continuation.onTermination = { [weak listener] _ in listener?.stop() }

        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            Thread.startNamed("skald-listen") {
                Self.run(
                    target: urlOrConninfo,
                    channels: channels,
                    connectTimeout: connectTimeout,
                    wakeUp: wakeUp,
                    ready: ready,
                    output: continuation
                )
            }
        }
        return listener
    }

    /// Stops listening: closes the connection and finishes ``notifications``. Safe to call twice.
    public func stop() {
        wakeUp.signal()
    }

    /// The listener thread: connect, LISTEN, then wait for the socket or the wake-up pipe.
    private static func run(
        target: String,
        channels: [String],
        connectTimeout: Int,
        wakeUp: WakeUpPipe,
        ready: CheckedContinuation<Void, any Error>,
        output: AsyncThrowingStream<PostgresNotification, any Error>.Continuation
    ) {
        let handle: OpaquePointer
        do {
            handle = try PostgresConnection.open(target, connectTimeout: connectTimeout)
        } catch {
            ready.resume(throwing: error)
            output.finish(throwing: error)
            return
        }
        defer { PQfinish(handle) }
        for channel in channels {
            let sql = "LISTEN " + PostgresQuery.quoteIdentifier(channel)
            guard let result = PQexec(handle, sql) else {
                let error = PostgresError(code: .connectionLost, message: PostgresConnection.errorMessage(of: handle), statement: sql)
                ready.resume(throwing: error)
                output.finish(throwing: error)
                return
            }
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                let error = PostgresConnection.error(from: result, sql: sql, handle: handle, index: nil)
                PQclear(result)
                ready.resume(throwing: error)
                output.finish(throwing: error)
                return
            }
            PQclear(result)
        }
        ready.resume()

        let socket = PQsocket(handle)
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeUp.readFD, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            // Deliver what is already buffered (notifications can arrive with a LISTEN reply).
            while let notify = PQnotifies(handle) {
                let note = notify.pointee
                output.yield(PostgresNotification(
                    channel: String(cString: note.relname),
                    payload: note.extra.map { String(cString: $0) } ?? "",
                    senderPID: note.be_pid
                ))
                PQfreemem(notify)
            }
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                output.finish(throwing: PostgresError(code: .connectionLost, message: "poll failed: errno \(errno)"))
                return
            }
            if descriptors[1].revents != 0 {
                output.finish()
                return
            }
            if descriptors[0].revents != 0 {
                if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
                    output.finish(throwing: PostgresError(
                        code: .connectionLost,
                        message: "the LISTEN connection was lost: \(PostgresConnection.errorMessage(of: handle))"
                    ))
                    return
                }
                // Results can't arrive unasked, but drain defensively so PQnotifies sees everything.
                while PQisBusy(handle) == 0, let result = PQgetResult(handle) { PQclear(result) }
            }
        }
    }
}

/// A pipe whose readable end wakes the listener thread out of `poll`.
///
/// Shared by the listener and its thread and closed only when both are done with it, so
/// a late ``signal()`` never writes to a closed (or reused) descriptor.
final class WakeUpPipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        // Close-on-exec, so processes this one starts (pg_ctl, the demo's children) do not
        // inherit it.
        let piped = pipe(&fds)
        if piped == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        guard piped == 0 else {
            throw PostgresError(code: .connection, message: "cannot create the listener's wake-up pipe: errno \(errno)")
        }
        readFD = fds[0]
        writeFD = fds[1]
        // Never block the signalling thread, even if many stops pile up.
        _ = fcntl(writeFD, F_SETFL, fcntl(writeFD, F_GETFL) | O_NONBLOCK)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}
