#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Synchronization

/// Writes whole log lines to a file descriptor (stdout) from a thread of its own.
///
/// Why: a payment logs a line, and a `write(2)` per line on the event loop that serves
/// the payment is a system call in the request's path. Here a line is appended to a
/// buffer under a lock, and the writer thread wakes every `interval` (or as soon as
/// `batch` bytes are waiting) and writes what has gathered, many lines per call. Waking
/// it for each line would cost what it saves: a futex call and a context switch.
///
/// Lines are never cut or interleaved: each is appended whole, and only one writer at a
/// time swaps the buffer out and writes it, in order. When lines come faster than the
/// descriptor takes them (over `limit` bytes waiting), the caller writes the backlog
/// itself: logging slows down, nothing is dropped. `flush()` writes everything waiting;
/// `payment-api` calls it before it exits.
final class LogLineWriter: Sendable {
    static let standardOutput = LogLineWriter(descriptor: 1)

    private let descriptor: Int32
    private let limit: Int
    private let batch: Int
    private let interval: DispatchTimeInterval
    private let pending = Mutex<[UInt8]>([])
    /// Held while a batch is written, so batches go out in the order they were taken.
    private let writing = Mutex<Void>(())
    private let wake = DispatchSemaphore(value: 0)

    /// `interval`: at most this long between a line and its write, while lines come.
    init(descriptor: Int32, interval: DispatchTimeInterval = .milliseconds(20), batch: Int = 64 << 10, limit: Int = 1 << 20) {
        self.descriptor = descriptor
        self.interval = interval
        self.batch = batch
        self.limit = limit
        let thread = Thread { [self] in
            while true {
                _ = wake.wait(timeout: .now() + interval)
                writeBacklog()
            }
        }
        thread.name = "log-writer"
        thread.start()
    }

    /// Queues one line (with its newline).
    func append(_ line: [UInt8]) {
        let (before, after) = pending.withLock { bytes in
            let before = bytes.count
            bytes.append(contentsOf: line)
            return (before, bytes.count)
        }
        if after > limit {
            writeBacklog()
        } else if before < batch && after >= batch {
            wake.signal()
        }
    }

    /// Writes every line queued so far before it returns.
    func flush() {
        writeBacklog()
    }

    private func writeBacklog() {
        writing.withLock { _ in
            let batch = pending.withLock { bytes in
                var batch: [UInt8] = []
                swap(&batch, &bytes)
                return batch
            }
            write(batch)
        }
    }

    private func write(_ batch: [UInt8]) {
        batch.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                #else
                let written = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                #endif
                if written < 0, errno == EINTR { continue }
                // A closed or full-and-broken stdout: the lines cannot go anywhere.
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
