import NIOCore

/// Runs a task's jobs on one SwiftNIO event loop.
///
/// Why: Hummingbird runs each connection's handler on Swift's global concurrency pool,
/// while the socket (and each Redis connection) lives on an event loop, so one payment
/// crossed threads six times: in, out, and twice for each of its two Redis commands
/// (docs/performance.md has the profile). With this executor as the connection task's
/// preference, the handler runs on the thread that owns its socket, and a Redis command
/// sent from there to a connection of the same loop is written and resumed on that
/// thread: hand-offs become queue appends on one thread, with no wake-up of another.
///
/// The price: a handler that blocks its thread now blocks every socket of that loop. The
/// request path must not block (it does not: file reads happen in the reloader services,
/// log lines are one write(2) each, as before on the pool).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        // Run as a job of this task executor (not of the loop's serial executor, which
        // `EventLoop.enqueue` would claim): the task keeps its preference, nothing else.
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// One executor per event loop of a group, made once: a connection looks its own up by
/// the loop it was accepted on.
struct EventLoopTaskExecutors: Sendable {
    private let executors: [ObjectIdentifier: EventLoopTaskExecutor]

    init(group: any EventLoopGroup) {
        var executors: [ObjectIdentifier: EventLoopTaskExecutor] = [:]
        for loop in group.makeIterator() {
            executors[ObjectIdentifier(loop)] = EventLoopTaskExecutor(eventLoop: loop)
        }
        self.executors = executors
    }

    /// The executor of `loop`; nil for a loop of another group (the caller then stays on
    /// the concurrency pool).
    func executor(for loop: any EventLoop) -> EventLoopTaskExecutor? {
        executors[ObjectIdentifier(loop)]
    }
}
