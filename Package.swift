// swift-tools-version: 6.0
// SPDX-License-Identifier: Apache-2.0
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
        // Everything that must be C in the skiff process: the syscalls Glibc does not expose
        // to Swift, and the spawn path. The static programs (skiff-init, which runs between
        // clone and execve, and skiff-probe) are in programs/, built by the Makefile outside
        // SwiftPM (see DESIGN.md).
        .target(
            name: "CShims",
            path: "CShims",
            linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]
        ),
        // The system layer: descriptors, files, errors, clock, processes. Everything else
        // builds on it; it builds on nothing of skiff's.
        .target(name: "SkiffSystem"),
        .target(name: "SkiffSpec", dependencies: ["SkiffSystem"]),
        .target(name: "SkiffCgroups", dependencies: ["SkiffSystem", "SkiffSpec", "CShims"]),
        .target(name: "SkiffSeccomp", dependencies: ["SkiffSystem", "SkiffSpec", "CShims"]),
        .target(name: "SkiffNetwork", dependencies: ["SkiffSystem", "SkiffSpec", "CShims"]),
        .target(name: "SkiffCheck", dependencies: ["SkiffSystem", "SkiffSpec", "SkiffNetwork"]),
        // The task network as a CNI plugin (the `skiff` binary, called with CNI_COMMAND set).
        .target(name: "SkiffCNI", dependencies: ["SkiffSystem", "SkiffSpec", "SkiffNetwork"]),
        .target(name: "SkiffRuntime", dependencies: ["SkiffSystem", "SkiffSpec", "SkiffCgroups", "SkiffSeccomp", "SkiffNetwork", "CShims"]),
        .executableTarget(
            name: "skiff",
            dependencies: ["SkiffSystem", "SkiffRuntime", "SkiffSpec", "SkiffCgroups", "SkiffCheck", "SkiffCNI"]
        ),
        .executableTarget(name: "skiff-bench", dependencies: ["SkiffSystem", "CShims", "SkiffSpec"]),
        // A tiny scheduler embedding the library (built and run by the tests).
        .executableTarget(name: "tiny-scheduler", dependencies: ["SkiffRuntime", "SkiffSpec"], path: "Examples/TinyScheduler"),
        // A thousand containers' lives in one process, counting its descriptors and threads.
        .executableTarget(name: "library-soak", dependencies: ["SkiffRuntime", "SkiffSpec", "SkiffSystem"], path: "Examples/LibrarySoak"),
        // Unit tests, one target per module: pure code, and the module's own kernel interface.
        .testTarget(name: "SkiffSystemTests", dependencies: ["SkiffSystem"]),
        .testTarget(name: "SkiffSpecTests", dependencies: ["SkiffSpec"], exclude: ["full-config.json"]),
        .testTarget(name: "SkiffCgroupsTests", dependencies: ["SkiffCgroups", "SkiffSpec"]),
        .testTarget(name: "SkiffSeccompTests", dependencies: ["SkiffSeccomp", "SkiffSpec", "SkiffSystem"]),
        .testTarget(name: "SkiffNetworkTests", dependencies: ["SkiffNetwork", "SkiffSpec", "CShims"]),
        .testTarget(name: "SkiffCheckTests", dependencies: ["SkiffCheck", "SkiffSpec"]),
        .testTarget(name: "SkiffCNITests", dependencies: ["SkiffCNI", "SkiffNetwork", "SkiffSpec"]),
        .testTarget(name: "SkiffRuntimeTests", dependencies: ["SkiffRuntime", "SkiffSpec", "SkiffCgroups", "CShims"],
                    exclude: ["golden"]),
        // Integration: the skiff binary (and podman, containerd, runc) driving real containers.
        .testTarget(name: "IntegrationTests", dependencies: ["SkiffRuntime", "SkiffSpec", "SkiffCgroups", "SkiffNetwork", "SkiffSystem", "CShims"],
                    exclude: ["helpers"]),
        // The VM tier: cgroup v2 and AppArmor in Debian's kernel booted in qemu (vm/).
        .testTarget(name: "VMTests", dependencies: ["SkiffCgroups", "SkiffSystem"]),
    ]
)
