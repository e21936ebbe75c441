import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

extension ProcessorDouble {
    /// `payment-simulator processor-double`: starts a double, says where it
    /// listens (through `log`, and in `portFile`, one line, when given), serves until
    /// SIGTERM or SIGINT, then shuts it down.
    public static func serveUntilSignalled(
        _ settings: ProcessorDoubleSettings,
        portFile: String?,
        logger: Logger = Logger(label: "processor-double", factory: { StreamLogHandler.standardError(label: $0) }),
        log: (String) -> Void
    ) async throws {
        // Ignored before the double starts, so a signal in between is not lost to the
        // default action (the sources below still see it).
        let signals = SignalWaiter(signals: [SIGTERM, SIGINT])
        let double = try await start(settings, logger: logger)
        do {
            if let portFile {
                try "\(double.port)\n".write(toFile: portFile, atomically: true, encoding: .utf8)
            }
            log("processor double listening on \(settings.host):\(double.port)")
            let signal = await signals.wait()
            log("processor double stopping on signal \(signal)")
        } catch {
            try? await double.shutdown()
            throw error
        }
        try await double.shutdown()
    }

    /// The content of a token file, without surrounding white space.
    public static func readToken(file: String) throws -> String {
        try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Waits for the first of some signals, through dispatch sources (a signal handler may
/// not resume a continuation; a dispatch source runs its handler on a queue).
private final class SignalWaiter: Sendable {
    private let first = FirstSignal()
    /// Kept so the sources live (a released source is cancelled) and cancelled after.
    private let sources: Mutex<[any DispatchSourceSignal]>

    init(signals: [Int32]) {
        let queue = DispatchQueue(label: "processor-double.signals")
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [first] in first.deliver(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    func wait() async -> Int32 {
        let number = await first.wait()
        sources.withLock { sources in
            for source in sources { source.cancel() }
        }
        return number
    }
}

/// The first signal received, and the task waiting for it.
private final class FirstSignal: Sendable {
    private let state = Mutex<(signal: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    func deliver(_ number: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            guard state.signal == nil else { return nil }
            state.signal = number
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let early = state.withLock { state -> Int32? in
                if let signal = state.signal { return signal }
                state.waiter = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }
}
