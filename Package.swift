// swift-tools-version:6.2
import PackageDescription

/// Every Skald target builds in the Swift 6 language mode with strict concurrency.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "skald",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Skald", targets: ["Skald"]),
        .library(name: "SkaldKafka", targets: ["SkaldKafka"]),
        .library(name: "SkaldPostgres", targets: ["SkaldPostgres"]),
        .library(name: "SkaldRuntime", targets: ["SkaldRuntime"]),
        .library(name: "SkaldAdmin", targets: ["SkaldAdmin"]),
        .library(name: "SkaldCLI", targets: ["SkaldCLI"]),
        .library(name: "SkaldExamples", targets: ["SkaldExamples"]),
        .executable(name: "skald", targets: ["skald"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        // `Heap`, for the instance cache's eviction order.
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        // 1.7 for `withTracer`, which the tracing tests use to scope a tracer to one test.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
        // The admin HTTP server, and the Prometheus backend its `/metrics` serves.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
    ],
    targets: [
        // MARK: C libraries, wrapped once at the module edge
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),

        // MARK: Swift APIs over Kafka and Postgres
        // What both wrappers need of the system and Foundation does not give (thread names).
        .target(
            name: "SkaldSystem",
            dependencies: [],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SkaldKafka",
            dependencies: [
                "CRdKafka",
                "SkaldSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SkaldPostgres",
            dependencies: [
                "CLibPQ",
                "SkaldSystem",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: The pure core: no I/O, no clock, no randomness
        .target(
            name: "Skald",
            dependencies: [],
            swiftSettings: strictSettings
        ),

        // MARK: The orchestrator
        .target(
            name: "SkaldRuntime",
            dependencies: [
                "Skald",
                "SkaldKafka",
                "SkaldPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: The admin HTTP server: health, readiness, metrics
        .target(
            name: "SkaldAdmin",
            dependencies: [
                "Skald",
                "SkaldRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: The example system: the PlaceOrder saga and its domain services
        .target(
            name: "SkaldExamples",
            dependencies: [
                "Skald", "SkaldRuntime", "SkaldKafka", "SkaldPostgres", .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Commands and the executable
        .target(
            name: "SkaldCLI",
            dependencies: [
                "Skald",
                "SkaldRuntime",
                "SkaldAdmin",
                "SkaldExamples",
                "SkaldKafka",
                "SkaldPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        // jemalloc's options for the executable (`malloc_conf`); see its source.
        .target(name: "CMallocConfiguration"),
        .executableTarget(
            name: "skald",
            dependencies: [
                "SkaldCLI", "SkaldExamples", "Skald",
                .target(name: "CMallocConfiguration", condition: .when(platforms: [.linux])),
            ],
            swiftSettings: strictSettings,
            // jemalloc replaces glibc's malloc in the shipped binary: Swift allocates many small,
            // short-lived objects from several threads, and glibc's arenas spent 17 % of the
            // orchestrator's CPU in malloc/free (docs/benchmarks-orchestrator.md, session 4).
            // Linking it is enough: the executable's symbols come first in the lookup order.
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),

        // MARK: Tests
        .target(
            name: "SkaldTestSupport",
            dependencies: ["SkaldPostgres"],
            path: "Tests/SkaldTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldTests",
            dependencies: ["Skald", "SkaldExamples", "SkaldTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldKafkaTests",
            dependencies: ["SkaldKafka", "SkaldSystem"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldRuntimeTests",
            dependencies: [
                "SkaldRuntime", "Skald", "SkaldKafka", "SkaldPostgres", "SkaldTestSupport",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldAdminTests",
            dependencies: [
                "SkaldAdmin", "SkaldRuntime", "Skald", "SkaldExamples", "SkaldKafka", "SkaldPostgres", "SkaldTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldEndToEndTests",
            dependencies: [
                "SkaldExamples", "SkaldRuntime", "Skald", "SkaldKafka", "SkaldPostgres", "SkaldTestSupport", "SkaldCLI",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SkaldPostgresTests",
            dependencies: ["SkaldPostgres", "SkaldTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
