package analyze

import "regexp"

// jvmGRPCServerRe finds a gRPC server built in code; its port argument
// is read when it is a literal.
var (
	jvmGRPCServerRe = regexp.MustCompile(`\b(?:Netty)?ServerBuilder\s*\.\s*forPort\(\s*([0-9]{2,5})?|\bGrpcService\b|@GrpcService\b`)
	jvmGRPCHealthRe = regexp.MustCompile(`\bHealthStatusManager\b|grpc\.health\.v1|\bHealthGrpc\b`)
	jvmGRPCPortEnv  = regexp.MustCompile(`getenv\(\)\s*\.\s*getOrDefault\(\s*"([A-Z_][A-Z0-9_]*)"\s*,\s*"([0-9]{2,5})"`)
)

// jvmGRPC records a gRPC server built in code (grpc-java's ServerBuilder or
// a Spring gRPC starter): its port (literal, getOrDefault default, PORT-like
// env default, or the grpc-spring default 9090) and the health service.
func jvmGRPC(s *Service, p jvmProject, srcs []jvmSource) bool {
	starter := p.has("net.devh:grpc-server-spring-boot-starter", "org.springframework.grpc:spring-grpc-server-spring-boot-starter")
	for _, src := range srcs {
		m := jvmGRPCServerRe.FindSubmatchIndex(src.Content)
		if m == nil {
			continue
		}
		s.GRPC = true
		if m[2] >= 0 {
			s.Port, s.PortSource = nodeValidPort(string(src.Content[m[2]:m[3]])), Source(src.Rel, LineOf(src.Content, m[0]))
		}
		break
	}
	if !s.GRPC && !starter {
		return false
	}
	s.GRPC = true
	if s.Port == 0 {
		for _, src := range srcs {
			if m := jvmGRPCPortEnv.FindSubmatchIndex(src.Content); m != nil {
				s.Port, s.PortSource = nodeValidPort(string(src.Content[m[4]:m[5]])), Source(src.Rel, LineOf(src.Content, m[0]))
				s.Env = MergeEnv(s.Env, EnvVar{Name: string(src.Content[m[2]:m[3]]), Default: string(src.Content[m[4]:m[5]]), Source: s.PortSource})
				break
			}
		}
	}
	if s.Port == 0 {
		s.Port, s.PortSource = PortFromEnv(s.Env)
	}
	if s.Port == 0 {
		s.Port, s.PortSource = 9090, "default for grpc-java servers"
		s.Assumptions = append(s.Assumptions, "gRPC port 9090 assumed: no forPort literal or PORT default is visible")
	}
	if p.has("io.grpc:grpc-services", "io.grpc:grpc-health") || starter {
		s.GRPCHealth, s.GRPCHealthSource = true, "dependency io.grpc:grpc-services"
		if starter {
			s.GRPCHealthSource = "the gRPC Spring Boot starter registers grpc.health.v1"
		}
	}
	for _, src := range srcs {
		if m := jvmGRPCHealthRe.FindIndex(src.Content); m != nil {
			s.GRPCHealth, s.GRPCHealthSource = true, Source(src.Rel, LineOf(src.Content, m[0]))
			break
		}
	}
	return true
}
