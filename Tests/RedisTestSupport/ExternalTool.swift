import Foundation

/// Runs a command-line tool found on PATH (`redis-cli`, `openssl`) and returns its exit
/// status and everything it printed. The wait happens on a Dispatch thread: blocking one
/// of the two cooperative threads for the seconds `redis-cli --cluster create` takes
/// would starve every other test running beside it.
public func runTool(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runToolBlocking(name, arguments) })
        }
    }
}

private func runToolBlocking(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do {
        try process.run()
    } catch {
        throw RedisServerError("\(name) could not be started (is it installed? `make test` installs it): \(error)")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
