import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` process for integration tests: its own free port on loopback,
/// its own temporary directory, no persistence. Stopped (killed) by `stop()`.
///
/// When `redis-server` is missing or does not come up, `start` throws an error that says
/// so: the tests that need it fail, they never pass without a server.
public final class RedisServer: Sendable {
    public let port: Int
    public let directory: String
    private let executable: String
    private let arguments: [String]
    private let process: Mutex<Process?>

    /// The server of the innermost `.redisServer` suite trait running this test.
    @TaskLocal public static var current: RedisServer?

    public var url: String { "redis://127.0.0.1:\(port)" }

    private init(executable: String, port: Int, directory: String, arguments: [String]) {
        self.executable = executable
        self.port = port
        self.directory = directory
        self.arguments = arguments
        self.process = Mutex(nil)
    }

    /// Starts a server with the extra configuration `arguments` (e.g. `--requirepass x`).
    /// A cluster node (`clusterNode`) also listens on port + 10000, its cluster bus: its
    /// port leaves room for that below 65536, and the bus port is free too.
    public static func start(arguments: [String] = [], clusterNode: Bool = false) async throws -> RedisServer {
        let executable = try findExecutable()
        let directory = try makeTemporaryDirectory()
        var lastError: (any Error)?
        // A free port can be taken between our probe and the server's bind: try a few.
        for _ in 0..<3 {
            let server = RedisServer(
                executable: executable, port: try clusterNode ? freeClusterPort() : freePort(), directory: directory, arguments: arguments
            )
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                server.kill()
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw lastError ?? RedisServerError("redis-server could not be started")
    }

    /// Pauses the process (SIGSTOP): connections stay open but nothing is answered.
    public func pause() { signal(SIGSTOP) }

    /// Resumes a paused process (SIGCONT).
    public func resume() { signal(SIGCONT) }

    /// Kills the process (SIGKILL) and waits for it; the port and directory stay ours.
    public func kill() {
        let running = process.withLock { process -> Process? in
            defer { process = nil }
            return process
        }
        guard let running else { return }
        Foundation.kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
    }

    /// Starts the server again on the same port, after `kill()`.
    public func restart() async throws {
        kill()
        try await launch()
    }

    /// Kills the server and removes its directory.
    public func stop() {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func signal(_ signal: Int32) {
        process.withLock { process in
            if let process { _ = Foundation.kill(process.processIdentifier, signal) }
        }
    }

    private func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--port", "\(port)",
            "--bind", "127.0.0.1",
            "--dir", directory,
            "--logfile", "\(directory)/redis.log",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw RedisServerError("redis-server at \(executable) could not be started: \(error)")
        }
        self.process.withLock { $0 = process }

        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw RedisServerError("redis-server exited at start (status \(process.terminationStatus)): \(logTail())")
            }
            if Self.answersPing(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RedisServerError("redis-server did not answer PING on port \(port) within 10 s: \(logTail())")
    }

    private func logTail() -> String {
        let log = (try? String(contentsOfFile: "\(directory)/redis.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    private static func findExecutable() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["REDIS_SERVER"], !explicit.isEmpty { return explicit }
        let path = (environment["PATH"] ?? "") + ":/usr/bin:/usr/sbin:/usr/local/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw RedisServerError(
            "redis-server was not found on PATH: the integration tests need a real Redis. "
                + "Install it with `apt-get install -y redis-server` (`make test` does this) or set REDIS_SERVER."
        )
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array("\(NSTemporaryDirectory())/redis-test-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else {
            throw RedisServerError("could not create a temporary directory for redis-server")
        }
        return String(cString: pointer)
    }

    /// A port the kernel just gave us on loopback, released for a server to take (e.g.
    /// the `--tls-port` of a test server).
    public static func freePort() throws -> Int {
        let socket = try LoopbackSocket()
        defer { socket.close() }
        return try socket.bindToFreePort()
    }

    private static func freeClusterPort() throws -> Int {
        for _ in 0..<200 {
            let port = try freePort()
            guard port + 10_000 < 65_536 else { continue }
            let bus = try LoopbackSocket()
            defer { bus.close() }
            if (try? bus.bindTo(port: port + 10_000)) != nil { return port }
        }
        throw RedisServerError("found no free port pair (port, port + 10000) for a cluster node")
    }

    /// True when a blocking RESP `PING` on loopback gets `+PONG` back within 1 s.
    static func answersPing(port: Int) -> Bool {
        guard let socket = try? LoopbackSocket() else { return false }
        defer { socket.close() }
        return socket.ping(port: port)
    }
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
