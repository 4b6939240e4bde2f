// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffRuntime", targets: ["SkiffRuntime"]),
    ],
    // No package dependencies: every container operation starts this binary, and start-up
    // time is part of container start-up time.
    dependencies: [],
    targets: [
        // Everything that must be C: the syscalls Glibc does not expose to Swift, and the
        // spawn path. `init/skiff-init.c` is the static program that runs between clone and
        // execve; the Makefile builds it outside SwiftPM (see DESIGN.md), so it is excluded here.
        .target(
            name: "CShims",
            path: "CShims",
            exclude: ["init"],
            linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]
        ),
        .target(name: "SkiffSpec"),
        .target(name: "SkiffCgroups", dependencies: ["SkiffSpec", "CShims"]),
        .target(name: "SkiffSeccomp", dependencies: ["SkiffSpec", "CShims"]),
        .target(name: "SkiffNetwork", dependencies: ["SkiffSpec", "CShims"]),
        .target(name: "SkiffCheck", dependencies: ["SkiffSpec", "SkiffNetwork"]),
        .target(name: "SkiffRuntime", dependencies: ["SkiffSpec", "SkiffCgroups", "SkiffSeccomp", "SkiffNetwork", "CShims"]),
        .executableTarget(
            name: "skiff",
            dependencies: ["SkiffRuntime", "SkiffSpec", "SkiffCheck"]
        ),
        .executableTarget(name: "skiff-bench", dependencies: ["CShims", "SkiffSpec"]),
        // A tiny scheduler embedding the library (built and run by the tests).
        .executableTarget(name: "tiny-scheduler", dependencies: ["SkiffRuntime", "SkiffSpec"], path: "Examples/TinyScheduler"),
        .testTarget(name: "SkiffSpecTests", dependencies: ["SkiffSpec"]),
        .testTarget(name: "SkiffCgroupsTests", dependencies: ["SkiffCgroups"]),
        .testTarget(name: "SkiffSeccompTests", dependencies: ["SkiffSeccomp", "SkiffSpec"]),
        .testTarget(name: "SkiffNetworkTests", dependencies: ["SkiffNetwork", "SkiffSpec"]),
        .testTarget(name: "SkiffRuntimeTests", dependencies: ["SkiffRuntime", "SkiffSpec", "SkiffCgroups", "SkiffNetwork", "CShims"]),
    ]
)
