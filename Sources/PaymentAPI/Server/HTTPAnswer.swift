#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes
import Hummingbird
import NIOCore

/// A whole response — status, headers, body bytes — as both paths build it: the router's
/// handlers turn it into Hummingbird's `Response`, the event-loop handler writes it as
/// HTTP parts. Every answer (an outcome, a problem, a probe) is written once, as this.
struct HTTPAnswer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    /// A JSON body.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> HTTPAnswer {
        HTTPAnswer(status: status, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: bytes))
    }

    var response: Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// The `Date` header (RFC 9110 §5.6.7, IMF-fixdate), as the router's responses carry it.
/// Made at most once a second per connection (`FastRouteHandler` keeps the last one).
struct HTTPDate {
    private var second = -1
    private var text = ""

    mutating func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        if time.tv_sec != second {
            second = time.tv_sec
            text = Self.format(epochSeconds: time.tv_sec)
        }
        return text
    }

    static func format(epochSeconds: Int) -> String {
        var seconds = epochSeconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
