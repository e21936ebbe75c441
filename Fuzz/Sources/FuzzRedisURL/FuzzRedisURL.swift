import FuzzSupport
import RedisClient

/// `RedisURL(parsing:)` on arbitrary text. When it accepts a URL:
/// - the host is non-empty and made of the characters the parser allows, the port is in
///   1...65535 and the database in 0...10000;
/// - the URL written back (user and password percent-encoded, an IPv6 host bracketed, the
///   port and database explicit) parses to the same URL, byte for byte;
/// - `description`, which is logged, does not depend on the password (it is the same
///   with any other password).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRedisURL(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let url = try? RedisURL(parsing: text) else { return 0 }
    let context = "from \(escaped(text))"

    invariant(!url.host.isEmpty, "empty host \(context)")
    invariant(!url.host.utf8.contains(where: { "/@[]% \t\r\n".utf8.contains($0) }), "host \(escaped(url.host)) has a delimiter \(context)")
    invariant((1...65_535).contains(url.port), "port \(url.port) \(context)")
    invariant((0...10_000).contains(url.database), "database \(url.database) \(context)")
    invariant(url.username?.isEmpty != true, "an empty user name is kept instead of nil \(context)")
    invariant(url.username == nil || url.password != nil, "a user name without a password \(context)")
    invariant(url.tls == text.hasPrefix("rediss://"), "tls \(url.tls) \(context)")

    var written = url.tls ? "rediss://" : "redis://"
    if url.username != nil || url.password != nil {
        written += percentEncoded(url.username ?? "") + ":" + percentEncoded(url.password ?? "") + "@"
    }
    written += url.host.contains(":") ? "[\(url.host)]" : url.host
    written += ":\(url.port)/\(url.database)"
    let again: RedisURL
    do {
        again = try RedisURL(parsing: written)
    } catch {
        invariant(false, "refused itself written back as \(escaped(written)) (\(error)) \(context)")
        return 0
    }
    invariant(again == url, "\(escaped(written)) parses to another URL \(context)")
    invariant(sameBytes(again.host, url.host) && sameBytes(again.username, url.username) && sameBytes(again.password, url.password),
              "\(escaped(written)) parses to other bytes \(context)")

    // Non-interference: the logged text must not depend on the password at all.
    if url.password != nil {
        var other = url
        other.password = "x"
        invariant(sameBytes(other.description, url.description), "description \(escaped(url.description)) depends on the password \(context)")
    }
    return 0
}
