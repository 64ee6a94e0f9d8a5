package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Base images and the numeric users their final stages run as. Every image
// is pinned to a version tag derived from the detected runtime version; the
// defaults below are used only when the analysis found no version, and each
// use is recorded as an assumption.
const (
	dockerDefaultGo     = "1.24"
	dockerDefaultJava   = 21
	dockerDefaultDotnet = "8.0"
	dockerDefaultNode   = 22
	dockerDefaultPython = "3.12"
	// dockerDefaultRust is taken when no toolchain is pinned and the
	// crate's rust-version (a minimum) is older: the first release with
	// edition 2024, which current crates need.
	dockerDefaultRust = "1.85"

	// dockerDistrolessStatic has no shell and no libc; its "nonroot" user is 65532.
	dockerDistrolessStatic = "gcr.io/distroless/static-debian12:nonroot"
	// dockerDistrolessCC adds glibc, libgcc and OpenSSL, which Rust binaries link.
	dockerDistrolessCC  = "gcr.io/distroless/cc-debian12:nonroot"
	dockerDistrolessUID = 65532
	// dockerCreatedUID is the user we create in the Debian/Ubuntu based
	// images (temurin, python, node, .NET) and run nginx as. It is at least
	// 10000, so it cannot collide with a user of the node (kube-score's
	// container-security-context-user-group-id); the images' own users
	// (node 1000, .NET app 1654, nginx 101) are below that.
	dockerCreatedUID = 10001

	// dockerNginx serves static sites as a non-root user; pinned to a
	// stable minor series.
	dockerNginx = "nginxinc/nginx-unprivileged:1.30-alpine"

	dockerMavenTag      = "3.9"
	dockerGradleTag     = "8.10"
	dockerGradleTagJDK  = 24 // from this Java version on, Gradle 8.10 cannot run; use dockerGradleTagNew
	dockerGradleTagNew  = "9.1"
	dockerPoetryVersion = "poetry>=2,<3"
	dockerUVVersion     = "uv>=0.5,<1"
	dockerPnpmVersion   = "pnpm@10"
)

var dockerVersionRe = regexp.MustCompile(`(\d+)(?:\.(\d+))?`)

// dockerMajorMinor extracts the first "major[.minor]" number pair of v
// ("go1.22.3" -> 1, 22, true; "^18.17" -> 18, 17, true; "21" -> 21, -1, true).
func dockerMajorMinor(v string) (major, minor int, ok bool) {
	m := dockerVersionRe.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, 0, false
	}
	minor = -1
	if m[2] != "" {
		if minor, err = strconv.Atoi(m[2]); err != nil {
			return 0, 0, false
		}
	}
	return major, minor, true
}

// goVersion returns the golang image tag ("1.22") for a go.mod version.
func goVersion(v string) (string, string) {
	major, minor, ok := dockerMajorMinor(v)
	if !ok || major != 1 || minor < 0 {
		return dockerDefaultGo, fmt.Sprintf("Go %s assumed: %s", dockerDefaultGo, dockerWhy(v, "go version"))
	}
	return fmt.Sprintf("%d.%d", major, minor), ""
}

// javaVersion returns the Java feature release (8, 11, 17, 21, 25) for a
// version such as "21", "17.0.2" or "1.8". A Kotlin language version
// ("1.9", "2.0") is not a JVM version and falls back to the default.
func javaVersion(v string) (int, string) {
	major, minor, ok := dockerMajorMinor(v)
	switch {
	case ok && major == 1 && minor >= 5 && minor <= 8:
		return minor, ""
	case ok && major >= 8:
		return major, ""
	}
	return dockerDefaultJava, fmt.Sprintf("Java %d assumed: %s", dockerDefaultJava, dockerWhy(v, "JVM release"))
}

// dotnetVersion returns the .NET image tag ("8.0") for a target framework
// version such as "8.0", "net8.0" or "8".
func dotnetVersion(v string) (string, int, string) {
	major, minor, ok := dockerMajorMinor(v)
	if !ok || major < 3 {
		d, _, _ := dockerMajorMinor(dockerDefaultDotnet)
		return dockerDefaultDotnet, d, fmt.Sprintf(".NET %s assumed: %s", dockerDefaultDotnet, dockerWhy(v, "target framework"))
	}
	if minor < 0 {
		minor = 0
	}
	return fmt.Sprintf("%d.%d", major, minor), major, ""
}

// nodeVersion returns the Node major version for an engines.node range
// ("20", ">=18", "^20.11"). A lower bound (">=18") takes the default LTS
// when the default satisfies it.
func nodeVersion(v string) (int, string) {
	major, _, ok := dockerMajorMinor(v)
	if strings.TrimSpace(v) == "" {
		return dockerDefaultNode, fmt.Sprintf("Node %d LTS assumed: package.json has no engines.node", dockerDefaultNode)
	}
	if !ok || major < 4 {
		return dockerDefaultNode, fmt.Sprintf("Node %d LTS assumed: %s", dockerDefaultNode, dockerWhy(v, "engines.node"))
	}
	if t := strings.TrimSpace(v); strings.HasPrefix(t, ">") && !strings.Contains(t, "<") && major <= dockerDefaultNode {
		return dockerDefaultNode, fmt.Sprintf("Node %d LTS chosen for engines.node %q", dockerDefaultNode, v)
	}
	return major, ""
}

// pythonVersion returns the python image tag ("3.12") for a version or
// requires-python range.
func pythonVersion(v string) (string, string) {
	major, minor, ok := dockerMajorMinor(v)
	if !ok || major != 3 || minor < 0 {
		return dockerDefaultPython, fmt.Sprintf("Python %s assumed: %s", dockerDefaultPython, dockerWhy(v, "Python version"))
	}
	if t := strings.TrimSpace(v); strings.HasPrefix(t, ">") && !strings.Contains(t, "<") {
		_, dm, _ := dockerMajorMinor(dockerDefaultPython)
		if minor <= dm {
			return dockerDefaultPython, fmt.Sprintf("Python %s chosen for requires-python %q", dockerDefaultPython, v)
		}
	}
	return fmt.Sprintf("%d.%d", major, minor), ""
}

// dockerWhy says why a version default was taken.
func dockerWhy(v, what string) string {
	if strings.TrimSpace(v) == "" {
		return "no " + what + " found"
	}
	return fmt.Sprintf("%s %q not understood", what, v)
}

func goImages(ver string) (builder, runtime string) {
	return "golang:" + ver, dockerDistrolessStatic
}

// javaBuilderImage picks the build image: the tool's own image, or a plain
// JDK when the project's wrapper brings the tool.
func javaBuilderImage(tool string, wrapper bool, java int) string {
	switch {
	case wrapper:
		return fmt.Sprintf("eclipse-temurin:%d-jdk", java)
	case tool == "gradle" && java >= dockerGradleTagJDK:
		return fmt.Sprintf("gradle:%s-jdk%d", dockerGradleTagNew, java)
	case tool == "gradle":
		return fmt.Sprintf("gradle:%s-jdk%d", dockerGradleTag, java)
	default:
		return fmt.Sprintf("maven:%s-eclipse-temurin-%d", dockerMavenTag, java)
	}
}

func javaRuntimeImage(java int) string { return fmt.Sprintf("eclipse-temurin:%d-jre", java) }

func dotnetImages(ver string, aspnet bool) (builder, runtime string) {
	rt := "runtime"
	if aspnet {
		rt = "aspnet"
	}
	return "mcr.microsoft.com/dotnet/sdk:" + ver, "mcr.microsoft.com/dotnet/" + rt + ":" + ver
}

var dotnetSDKRe = regexp.MustCompile(`^(\d+)\.\d+\.\d{3}$`)

// dotnetSDKTag returns the SDK image tag for the SDK global.json pins
// ("8.0.404"), when it is a release that can build the target framework
// major; "" and a note otherwise.
func dotnetSDKTag(sdk string, major int) (string, string) {
	if sdk == "" {
		return "", ""
	}
	m := dotnetSDKRe.FindStringSubmatch(sdk)
	if m == nil {
		return "", fmt.Sprintf("global.json pins SDK %q, which has no image tag of its own: the %d.x SDK image builds it (check global.json's rollForward)", sdk, major)
	}
	if v, _ := strconv.Atoi(m[1]); v < major {
		return "", fmt.Sprintf("global.json pins SDK %s, older than the target framework .NET %d: the %d.x SDK image builds it", sdk, major, major)
	}
	return sdk, ""
}

// rustToolchainRe matches a pinned release channel ("1.82", "1.82.0"),
// not "stable" or a nightly.
var rustToolchainRe = regexp.MustCompile(`^1\.\d+(\.\d+)?$`)

// rustVersion returns the rust image tag for a pinned toolchain channel
// ("1.82.0") or the crate's rust-version ("1.80", a minimum).
func rustVersion(toolchain, rustVersion string) (string, string) {
	if rustToolchainRe.MatchString(toolchain) {
		return toolchain, ""
	}
	_, dm, _ := dockerMajorMinor(dockerDefaultRust)
	major, minor, ok := dockerMajorMinor(rustVersion)
	switch {
	case !ok || major != 1 || minor < 0:
		return dockerDefaultRust, fmt.Sprintf("Rust %s assumed: %s", dockerDefaultRust, dockerWhy(rustVersion, "rust-version or toolchain"))
	case minor < dm:
		return dockerDefaultRust, fmt.Sprintf("Rust %s chosen for rust-version %s (a minimum; current dependencies need newer compilers)", dockerDefaultRust, rustVersion)
	}
	return fmt.Sprintf("1.%d", minor), ""
}

// rustBuilderImage is the full Debian image: it has the C toolchain,
// pkg-config and OpenSSL headers that common crates' build scripts need.
func rustBuilderImage(ver string) string { return "rust:" + ver + "-bookworm" }

func nodeImage(major int) string { return fmt.Sprintf("node:%d-bookworm-slim", major) }

func pythonImage(ver string) string { return "python:" + ver + "-slim" }
