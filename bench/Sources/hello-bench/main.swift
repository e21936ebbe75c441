// hello-bench: the bare framework, for `make bench` to measure beside payment-api.
// A Hummingbird 2 application with its defaults (the same version, event loop group and
// server as ours) and one route, `GET /healthz` → `ok`: whatever payment-api's own
// /healthz costs beyond this is ours, whatever this costs is the stack's.
//
//   HELLO_PORT (default 8091), HELLO_HOST (default 127.0.0.1)
import Foundation
import Hummingbird

let environment = ProcessInfo.processInfo.environment
let host = environment["HELLO_HOST"] ?? "127.0.0.1"
guard let port = Int(environment["HELLO_PORT"] ?? "8091"), (1...65535).contains(port) else {
    FileHandle.standardError.write(Data("hello-bench: HELLO_PORT must be a port number\n".utf8))
    exit(78)  // EX_CONFIG
}

let router = Router()
router.get("healthz") { _, _ in "ok" }
let application = Application(router: router, configuration: .init(address: .hostname(host, port: port)))
try await application.runService()
