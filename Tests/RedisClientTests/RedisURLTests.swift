import Logging
import RedisClient
import Testing

@Suite("redis URLs and configuration")
struct RedisURLTests {
    @Test func plainHostAndPort() throws {
        let url = try RedisURL(parsing: "redis://cache.internal:6380")
        #expect(url == RedisURL(host: "cache.internal", port: 6380))
    }

    @Test func defaultsPortAndDatabase() throws {
        #expect(try RedisURL(parsing: "redis://localhost") == RedisURL(host: "localhost"))
    }

    @Test func userPasswordAndDatabase() throws {
        let url = try RedisURL(parsing: "redis://app:p%40ss%3Aword@10.0.0.5:6379/2")
        #expect(url.username == "app")
        #expect(url.password == "p@ss:word")
        #expect(url.database == 2)
    }

    @Test func passwordOnlyForms() throws {
        #expect(try RedisURL(parsing: "redis://:secret@h").password == "secret")
        #expect(try RedisURL(parsing: "redis://:secret@h").username == nil)
        #expect(try RedisURL(parsing: "redis://secret@h").password == "secret")
    }

    @Test func ipv6Host() throws {
        let url = try RedisURL(parsing: "redis://[::1]:7000")
        #expect(url.host == "::1")
        #expect(url.port == 7000)
        #expect(url.description == "redis://[::1]:7000")
    }

    @Test func tlsScheme() throws {
        #expect(try RedisURL(parsing: "rediss://h:6380").tls)
    }

    @Test(arguments: [
        ("http://h:6379", "must start with redis:// or rediss://"),
        ("redis://", "host is missing"),
        ("redis://h:0", "port must be a number from 1 to 65535"),
        ("redis://h:70000", "port must be a number from 1 to 65535"),
        ("redis://h:abc", "port must be a number from 1 to 65535"),
        ("redis://h/x", "database must be a number from 0 after the slash"),
        ("redis://h/-1", "database must be a number from 0 after the slash"),
        ("redis://:%zz@h", "password has an invalid percent escape"),
        ("redis://h o/", "host contains characters that are not allowed"),
        ("redis://[::1", "IPv6 host is missing its closing ]"),
    ])
    func invalidURLsSayWhatIsWrong(text: String, message: String) {
        let error = #expect(throws: RedisURLError.self) { try RedisURL(parsing: text) }
        #expect(error?.message == message)
    }

    @Test func descriptionMasksThePassword() throws {
        let url = try RedisURL(parsing: "redis://app:topsecret@h:1/4")
        #expect(url.description == "redis://app:***@h:1/4")
        #expect(!"\(url)".contains("topsecret"))
    }

    @Test func passwordOverrideReplacesOnlyWhenSet() throws {
        #expect(try RedisClientConfiguration(url: "redis://:a@h", password: "b").url.password == "b")
        #expect(try RedisClientConfiguration(url: "redis://:a@h", password: "").url.password == "a")
        #expect(try RedisClientConfiguration(url: "redis://:a@h").url.password == "a")
    }
}
