import Foundation
import Logging
import PaymentCore
import ServiceLifecycle
import Synchronization

/// The keys of `API_KEYS_FILE`, re-read when the file changes: a rotated Kubernetes
/// Secret takes effect without a restart. A file that stops parsing keeps the last good
/// keys (and says so in the log) rather than locking every client out.
public final class APIKeyFile: Sendable {
    public let path: String
    private let state: Mutex<(keys: APIKeys, content: String)>

    public init(path: String, keys: APIKeys) {
        self.path = path
        self.state = Mutex((keys, (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""))
    }

    public var keys: APIKeys { state.withLock { $0.keys } }

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

    /// Re-reads the file if its content changed; returns what happened, for the log.
    func reloadIfChanged() -> ReloadResult {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return .unreadable }
        guard text != state.withLock({ $0.content }) else { return .unchanged }
        do {
            let keys = try APIKeys(parsing: text)
            state.withLock { $0 = (keys, text) }
            return .reloaded(count: keys.count)
        } catch {
            state.withLock { $0.content = text }
            return .invalid(error.description)
        }
    }

    enum ReloadResult: Equatable {
        case unchanged, unreadable
        case reloaded(count: Int)
        case invalid(String)
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
                case .unreadable:
                    logger.error("API keys file unreadable; keeping the last keys", metadata: ["path": "\(file.path)"])
                case .reloaded(let count):
                    logger.notice("API keys reloaded", metadata: ["path": "\(file.path)", "keys": "\(count)"])
                case .invalid(let reason):
                    logger.error("API keys file invalid; keeping the last keys", metadata: ["path": "\(file.path)", "error": "\(reason)"])
                }
            }
        }
    }
}
