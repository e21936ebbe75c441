import Foundation
import Logging
import Metrics
import PaymentCore
import ServiceLifecycle
import Synchronization

/// The keys of `API_KEYS_FILE`, re-read when the file changes: a rotated Kubernetes
/// Secret takes effect without a restart. A broken file must neither lock every client out
/// (a typo) nor keep a removed key alive (an operator revoking a leaked key), so:
/// - a file that does not parse keeps only the last good keys whose line is still in it,
///   unchanged: removing a key's line revokes it at the next poll whatever else the edit
///   broke, and keys the broken file adds wait until it parses;
/// - a file that cannot be read (deleted, unmounted) keeps the keys of its last read for
///   `staleAfter` at most, then every key is refused until it can be read again.
public final class APIKeyFile: Sendable {
    public let path: String
    /// `API_KEYS_STALE_SECONDS`: how long an unreadable file's last keys stay valid.
    public let staleAfter: Duration
    private let metrics: APIKeyMetrics
    private let state: Mutex<State>

    private struct State {
        /// The keys of the last content that parsed.
        var lastGood: APIKeys
        /// What requests are checked against; nil: every key refused.
        var inForce: APIKeys?
        /// The content of the last read; nil before the first poll and after a failed read,
        /// so that the next read is parsed whatever it holds.
        var content: String?
        /// The last successful read: the start of `staleAfter` once reads fail.
        var lastRead: ContinuousClock.Instant
        var condition: Condition
    }

    private enum Condition {
        case valid, invalid, unreadable
    }

    /// `keys` were read from `path` at `readAt` (start-up's configuration read).
    public init(
        path: String, keys: APIKeys, staleAfter: Duration = .seconds(300),
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance, readAt: ContinuousClock.Instant = .now
    ) {
        self.path = path
        self.staleAfter = staleAfter
        self.metrics = APIKeyMetrics(factory: metricsFactory)
        self.state = Mutex(State(lastGood: keys, inForce: keys, content: nil, lastRead: readAt, condition: .valid))
        metrics.record(fileValid: true, activeKeys: keys.count)
    }

    /// The keys requests are checked against; nil while every key is refused (the file has
    /// been unreadable for longer than `staleAfter`).
    public var keys: APIKeys? { state.withLock { $0.inForce } }

    /// Reads and parses the file; errors name the problem and the line.
    public static func read(_ path: String) throws(APIKeyFileError) -> APIKeys {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw APIKeyFileError(description: "could not be read from \(path)")
        }
        do {
            return try APIKeys(parsing: text)
        } catch {
            throw APIKeyFileError(description: "\(path) \(error.description)")
        }
    }

    /// Re-reads the file (the reloader's poll, `now` injectable for tests); returns what
    /// changed, for the log. Metrics are recorded on every poll.
    func reloadIfChanged(now: ContinuousClock.Instant = .now) -> ReloadResult {
        let text = try? String(contentsOfFile: path, encoding: .utf8)
        let (result, condition, active) = state.withLock { state in
            let result = if let text { Self.apply(text, to: &state, at: now) } else { unreadable(&state, at: now) }
            return (result, state.condition, state.inForce?.count ?? 0)
        }
        switch condition {
        case .valid: break
        case .invalid: metrics.record(.invalid)
        case .unreadable: metrics.record(.unreadable)
        }
        metrics.record(fileValid: condition == .valid, activeKeys: active)
        return result
    }

    private static func apply(_ text: String, to state: inout State, at now: ContinuousClock.Instant) -> ReloadResult {
        state.lastRead = now
        guard text != state.content else { return .unchanged }
        state.content = text
        do {
            let keys = try APIKeys(parsing: text)
            // A comment-only edit, or the first poll after start: nothing to report.
            let same = state.condition == .valid && state.lastGood == keys && state.inForce == keys
            (state.lastGood, state.inForce, state.condition) = (keys, keys, .valid)
            return same ? .unchanged : .reloaded(count: keys.count)
        } catch {
            // From the last good keys, not from those in force: the result depends on the
            // file as it is now, and a line put back unchanged restores its key.
            let kept = state.lastGood.keepingLines(of: text)
            (state.inForce, state.condition) = (kept, .invalid)
            return .invalid(error.description, kept: kept.count, revoked: state.lastGood.count - kept.count)
        }
    }

    private func unreadable(_ state: inout State, at now: ContinuousClock.Instant) -> ReloadResult {
        let wasUnreadable = state.condition == .unreadable
        (state.content, state.condition) = (nil, .unreadable)
        let unread = now - state.lastRead
        guard unread < staleAfter else {
            defer { state.inForce = nil }
            return state.inForce == nil ? .unchanged : .refusing
        }
        return wasUnreadable ? .unchanged : .unreadable(refusingIn: staleAfter - unread)
    }

    enum ReloadResult: Equatable {
        /// Nothing new: the same content (good or broken), or still unreadable.
        case unchanged
        case reloaded(count: Int)
        /// New content that does not parse: `kept` old keys whose lines are still there.
        case invalid(String, kept: Int, revoked: Int)
        /// The file just became unreadable: its last keys stay for `refusingIn`.
        case unreadable(refusingIn: Duration)
        /// Unreadable for `staleAfter`: from now on every key is refused.
        case refusing
    }
}

public struct APIKeyFileError: Error, CustomStringConvertible {
    public let description: String
}

/// Polls the key file every `interval` (Secret volumes change by swapping a symlink,
/// which file watchers miss; a content comparison does not).
struct APIKeyReloader: Service {
    let file: APIKeyFile
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                switch file.reloadIfChanged() {
                case .unchanged: break
                case .reloaded(let count):
                    logger.notice("API keys reloaded", metadata: ["path": "\(file.path)", "keys": "\(count)"])
                case .invalid(let reason, let kept, let revoked):
                    logger.error("API keys file invalid; keeping only the old keys whose lines are unchanged", metadata: [
                        "path": "\(file.path)", "error": "\(reason)", "kept": "\(kept)", "revoked": "\(revoked)",
                    ])
                case .unreadable(let refusingIn):
                    logger.error("API keys file unreadable; keeping the last keys for a while", metadata: [
                        "path": "\(file.path)", "refusing_in_seconds": "\(Int((refusingIn / .seconds(1)).rounded(.up)))",
                    ])
                case .refusing:
                    logger.critical("API keys file unreadable for longer than API_KEYS_STALE_SECONDS; refusing every key", metadata: [
                        "path": "\(file.path)", "stale_seconds": "\(file.staleAfter.components.seconds)",
                    ])
                }
            }
        }
    }
}
