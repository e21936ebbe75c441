import Foundation
import Synchronization

/// A secret kept in a file (a mounted Secret): read at start, and again when the file's
/// modification time changes, checked at most once a second, so a rotated credential is
/// used without a restart. A file that cannot be read keeps the last good value.
final class CredentialFile: Sendable {
    let path: String
    private struct State {
        var value: String
        var modified: Date?
        var checked: ContinuousClock.Instant
    }
    private let state: Mutex<State>

    /// Throws when the file cannot be read or holds nothing but white space.
    init(path: String) throws(CredentialFileError) {
        self.path = path
        let (value, modified) = try Self.read(path)
        state = Mutex(State(value: value, modified: modified, checked: .now))
    }

    var value: String {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Date?? in
            guard now - state.checked >= .seconds(1) else { return nil }
            state.checked = now
            return .some(state.modified)
        }
        guard let known = due else { return state.withLock { $0.value } }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if modified != known, let (value, modified) = try? Self.read(path) {
            state.withLock { $0.value = value; $0.modified = modified }
        }
        return state.withLock { $0.value }
    }

    private static func read(_ path: String) throws(CredentialFileError) -> (String, Date?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CredentialFileError(message: "cannot be read: \"\(path)\"")
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw CredentialFileError(message: "is empty: \"\(path)\"") }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        return (value, modified)
    }
}

public struct CredentialFileError: Error, Hashable, Sendable {
    public let message: String
}
