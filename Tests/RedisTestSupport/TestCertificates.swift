import Foundation

/// Certificates made with `openssl` for the TLS tests, in a temporary directory: a CA, a
/// server certificate for 127.0.0.1 and localhost signed by it, a client certificate
/// signed by it, and an unrelated CA that trusts neither.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { "\(directory)/ca.crt" }
    public var serverCertificateFile: String { "\(directory)/server.crt" }
    public var serverKeyFile: String { "\(directory)/server.key" }
    public var clientCertificateFile: String { "\(directory)/client.crt" }
    public var clientKeyFile: String { "\(directory)/client.key" }
    public var otherCAFile: String { "\(directory)/other-ca.crt" }

    public static func make() async throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "/redis-tls-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(directory)/server.ext", atomically: true, encoding: .utf8)
        for (name, subject) in [("ca", "/CN=payment-api test CA"), ("other-ca", "/CN=unrelated CA")] {
            try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
                               "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt"])
        }
        for (name, subject) in [("server", "/CN=redis test server"), ("client", "/CN=payment-api test client")] {
            try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                               "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr"])
            var sign = ["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", certificates.caFile,
                        "-CAkey", "\(directory)/ca.key", "-CAcreateserial", "-days", "2", "-out", "\(directory)/\(name).crt"]
            if name == "server" { sign += ["-extfile", "\(directory)/server.ext"] }
            try await openssl(sign)
        }
        return certificates
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func openssl(_ arguments: [String]) async throws {
        let (status, output) = try await runTool("openssl", arguments)
        guard status == 0 else {
            throw RedisServerError("openssl \(arguments.first ?? "") failed (status \(status)): \(output)")
        }
    }
}

extension RedisServer {
    /// A server that also listens with TLS on `tlsPort` (its plain `port` stays open for
    /// the test's own checks), presenting `certificates`' server certificate and requiring
    /// a client certificate signed by their CA.
    public static func startTLS(certificates: TestCertificates) async throws -> (server: RedisServer, tlsPort: Int) {
        let tlsPort = try freePort()
        let server = try await start(arguments: [
            "--tls-port", "\(tlsPort)", "--tls-cert-file", certificates.serverCertificateFile,
            "--tls-key-file", certificates.serverKeyFile, "--tls-ca-cert-file", certificates.caFile, "--tls-auth-clients", "yes",
        ])
        return (server, tlsPort)
    }
}
