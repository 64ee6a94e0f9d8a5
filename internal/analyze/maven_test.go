package analyze

import (
	"encoding/json"
	"reflect"
	"testing"
)

// mvnSpringPom is a Spring Boot 3 pom with the starter parent; deps are
// spliced in.
func mvnSpringPom(artifact, props, deps string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.5</version>
    <relativePath/>
  </parent>
  <groupId>com.example</groupId>
  <artifactId>` + artifact + `</artifactId>
  <version>1.0.0</version>
  <properties>` + props + `</properties>
  <dependencies>` + deps + `</dependencies>
</project>
`
}

func mvnDep(g, a string) string {
	return "<dependency><groupId>" + g + "</groupId><artifactId>" + a + "</artifactId></dependency>\n"
}

const (
	mvnWebStarter = "<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>\n"
	mvnActuator   = "<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-actuator</artifactId></dependency>\n"
)

func TestMavenDetector(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     []Service
		wantErrs []ServiceError
	}{
		{
			name: "spring boot with parent and wrapper",
			files: map[string]string{
				"mvnw": "#!/bin/sh\n",
				"user-service/pom.xml": mvnSpringPom("user-service", "<java.version>17</java.version>",
					mvnWebStarter+mvnActuator+
						mvnDep("org.springframework.boot", "spring-boot-starter-amqp")+
						mvnDep("org.mariadb.jdbc", "mariadb-java-client")+
						`<dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId><scope>test</scope></dependency>`),
				"user-service/src/main/resources/application.yml": `server:
  port: ${PORT:8081} # the port
spring:
  datasource:
    url: jdbc:mariadb://${DB_HOST:localhost}:3306/users
    password: ${DB_PASSWORD:changeme}
`,
				"user-service/src/main/java/com/example/App.java": `package com.example;
class App {
  String flags = System.getenv("FEATURE_FLAGS");
  @Value("${GREETING:hello}") String greeting;
  public static void main(String[] args) { SpringApplication.run(App.class, args); }
}
`,
				"user-service/src/test/java/com/example/AppTest.java": `class AppTest { String x = System.getenv("TEST_ONLY"); }`,
			},
			want: []Service{{
				Name: "user-service", Path: "user-service", Detector: "maven",
				Language: LangJava, LanguageVersion: "17", Framework: "spring-boot",
				BuildTool: "maven", Wrapper: true, Entrypoint: "user-service-1.0.0.jar", Project: "pom.xml",
				Port: 8081, PortSource: "src/main/resources/application.yml:2",
				HealthPath: "/actuator/health",
				Env: []EnvVar{
					{Name: "DB_HOST", Default: "localhost", Source: "src/main/resources/application.yml:5"},
					{Name: "DB_PASSWORD", Secret: true, Source: "src/main/resources/application.yml:6"},
					{Name: "FEATURE_FLAGS", Source: "src/main/java/com/example/App.java:3"},
					{Name: "GREETING", Default: "hello", Source: "src/main/java/com/example/App.java:4"},
					{Name: "PORT", Default: "8081", Source: "src/main/resources/application.yml:2"},
				},
				Backing: []Backing{
					{Kind: BackingMariaDB, Evidence: "pom.xml: org.mariadb.jdbc:mariadb-java-client", EnvVar: "SPRING_DATASOURCE_URL", Database: "users"},
					{Kind: BackingRabbitMQ, Evidence: "pom.xml: org.springframework.boot:spring-boot-starter-amqp"},
				},
			}},
		},
		{
			name: "plain java with maven.compiler.release via a property",
			files: map[string]string{
				"pom.xml": `<project>
  <groupId>com.example</groupId>
  <artifactId>BatchTool</artifactId>
  <version>${revision}</version>
  <properties>
    <revision>2.1</revision>
    <jdk>17</jdk>
    <maven.compiler.release>${jdk}</maven.compiler.release>
  </properties>
  <dependencies>
    <dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId></dependency>
  </dependencies>
</project>`,
				"src/main/java/Main.java": "public class Main { public static void main(String[] a) {} }",
			},
			want: []Service{{
				Name: "batch-tool", Path: ".", Detector: "maven", Language: LangJava, LanguageVersion: "17",
				Framework: "worker", BuildTool: "maven", Entrypoint: "BatchTool-2.1.jar", Project: "pom.xml",
				Backing:     []Backing{{Kind: BackingPostgres, Evidence: "pom.xml: org.postgresql:postgresql"}},
				Assumptions: []string{"BatchTool-2.1.jar is a plain jar: its dependencies are not bundled (add the maven-shade-plugin or copy them into the image)"},
			}},
		},
		{
			name: "finalName, default java release and default port",
			files: map[string]string{
				"api/pom.xml": `<project>
  <groupId>com.example</groupId>
  <artifactId>orders-api</artifactId>
  <version>0.3.0</version>
  <dependencies>` + mvnWebStarter + `</dependencies>
  <build>
    <finalName>${project.artifactId}-app</finalName>
    <plugins><plugin><groupId>org.springframework.boot</groupId><artifactId>spring-boot-maven-plugin</artifactId></plugin></plugins>
  </build>
</project>`,
				"api/src/main/java/Api.java": `class Api { @GetMapping("/healthz") String h() { return "ok"; } }`,
			},
			want: []Service{{
				Name: "orders-api", Path: "api", Detector: "maven", Language: LangJava, LanguageVersion: "21",
				Framework: "spring-boot", BuildTool: "maven", Entrypoint: "orders-api-app.jar", Project: "pom.xml",
				Port: 8080, PortSource: "default for spring-boot", HealthPath: "/healthz",
				Assumptions: []string{
					"Java 21 assumed: api/pom.xml states no Java release (set <java.version> or <maven.compiler.release>)",
					"port 8080 is Spring Boot's default",
				},
			}},
		},
		{
			name: "aggregator with two modules and a library",
			files: map[string]string{
				"mvnw": "",
				"pom.xml": `<project>
  <parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.3.5</version><relativePath/></parent>
  <groupId>com.example</groupId><artifactId>shop</artifactId><version>1.2.0</version>
  <packaging>pom</packaging>
  <modules><module>web</module><module>jobs</module><module>common</module></modules>
  <properties><java.version>21</java.version></properties>
  <dependencies>` + mvnDep("org.postgresql", "postgresql") + `</dependencies>
</project>`,
				"web/pom.xml": `<project>
  <parent><groupId>com.example</groupId><artifactId>shop</artifactId><version>1.2.0</version></parent>
  <artifactId>web</artifactId>
  <dependencies>` + mvnWebStarter + `</dependencies>
</project>`,
				"web/src/main/resources/application.properties": "server.port=9000\n",
				"jobs/pom.xml": `<project>
  <parent><groupId>com.example</groupId><artifactId>shop</artifactId><version>1.2.0</version></parent>
  <artifactId>jobs</artifactId>
  <dependencies>` + mvnDep("org.springframework.kafka", "spring-kafka") + `</dependencies>
</project>`,
				"common/pom.xml": `<project>
  <parent><groupId>com.example</groupId><artifactId>shop</artifactId><version>1.2.0</version></parent>
  <artifactId>common</artifactId>
  <dependencies>` + mvnWebStarter + `</dependencies>
</project>`,
				"common/src/main/java/Util.java": "class Util {}",
			},
			want: []Service{
				{
					Name: "jobs", Path: "jobs", Detector: "maven", Language: LangJava, LanguageVersion: "21",
					Framework: "worker", BuildTool: "maven", Wrapper: true, Entrypoint: "jobs-1.2.0.jar", Project: "pom.xml",
					Backing: []Backing{
						{Kind: BackingKafka, Evidence: "pom.xml: org.springframework.kafka:spring-kafka"},
						{Kind: BackingPostgres, Evidence: "../pom.xml: org.postgresql:postgresql"},
					},
					Assumptions: []string{"no spring-boot-starter-web or -webflux dependency: treated as a worker without a port"},
				},
				{
					Name: "web", Path: "web", Detector: "maven", Language: LangJava, LanguageVersion: "21",
					Framework: "spring-boot", BuildTool: "maven", Wrapper: true, Entrypoint: "web-1.2.0.jar", Project: "pom.xml",
					Port: 9000, PortSource: "src/main/resources/application.properties:1",
					Backing: []Backing{{Kind: BackingPostgres, Evidence: "../pom.xml: org.postgresql:postgresql"}},
				},
			},
		},
		{
			name: "malformed pom next to a good one",
			files: map[string]string{
				"bad/pom.xml": `<project>
  <artifactId>bad</artifactId>
  <dependencies>
    <dependency>
      <artifactId>x</artifactId>
  </dependencies>
</project>`,
				"good/pom.xml": mvnSpringPom("good", "<java.version>17</java.version>", mvnWebStarter),
				"good/src/main/resources/application.properties": "server.port=${PORT:8085}\n",
			},
			want: []Service{{
				Name: "good", Path: "good", Detector: "maven", Language: LangJava, LanguageVersion: "17",
				Framework: "spring-boot", BuildTool: "maven", Entrypoint: "good-1.0.0.jar", Project: "pom.xml",
				Port: 8085, PortSource: "src/main/resources/application.properties:1",
				Env: []EnvVar{{Name: "PORT", Default: "8085", Source: "src/main/resources/application.properties:1"}},
			}},
			wantErrs: []ServiceError{{
				Path: "bad", File: "bad/pom.xml", Line: 6,
				Message: "malformed pom.xml: element <dependency> closed by </dependencies>",
				Hint:    "fix the XML in bad/pom.xml (unclosed tag?) and check it with `mvn validate`",
			}},
		},
		{
			name: "worker without web starter, backing from config",
			files: map[string]string{
				"pom.xml": mvnSpringPom("events", "<maven.compiler.release>17</maven.compiler.release>",
					mvnDep("org.springframework.boot", "spring-boot-starter")+mvnActuator),
				"src/main/resources/application.yaml": "spring:\n  kafka:\n    bootstrap-servers: ${KAFKA:localhost:9092}\n",
			},
			want: []Service{{
				Name: "events", Path: ".", Detector: "maven", Language: LangJava, LanguageVersion: "17",
				Framework: "worker", BuildTool: "maven", Entrypoint: "events-1.0.0.jar", Project: "pom.xml",
				Env:         []EnvVar{{Name: "KAFKA", Default: "localhost:9092", Source: "src/main/resources/application.yaml:3"}},
				Backing:     []Backing{{Kind: BackingKafka, Evidence: "src/main/resources/application.yaml:3: spring.kafka", EnvVar: "KAFKA"}},
				Assumptions: []string{"no spring-boot-starter-web or -webflux dependency: treated as a worker without a port"},
			}},
		},
		{
			name: "kotlin, actuator base path and management port",
			files: map[string]string{
				"pom.xml":                mvnSpringPom("billing", "<java.version>1.8</java.version>", mvnWebStarter+mvnActuator),
				"src/main/kotlin/App.kt": "fun main() {}\n",
				"src/main/resources/application.properties": "server.servlet.context-path=/api\n" +
					"management.endpoints.web.base-path=/manage\nmanagement.server.port=9090\n",
			},
			want: []Service{{
				Name: "billing", Path: ".", Detector: "maven", Language: LangKotlin, LanguageVersion: "8",
				Framework: "spring-boot", BuildTool: "maven", Entrypoint: "billing-1.0.0.jar", Project: "pom.xml",
				Port: 8080, PortSource: "default for spring-boot", HealthPath: "/manage/health",
				Assumptions: []string{
					"port 8080 is Spring Boot's default",
					"actuator health is served on management.server.port 9090 (src/main/resources/application.properties:3), not on the service port",
				},
			}},
		},
		{
			name: "pom files in target and src/test are ignored",
			files: map[string]string{
				"target/pom.xml":                         mvnSpringPom("ghost", "", mvnWebStarter),
				"src/test/resources/project/pom.xml":     mvnSpringPom("fixture", "", mvnWebStarter),
				"lib/pom.xml":                            "<project><artifactId>lib</artifactId><version>1</version></project>",
				"bom/pom.xml":                            "<project><artifactId>bom</artifactId><packaging>pom</packaging></project>",
				"src/test/resources/project/Main.java":   "static void main(",
				"lib/src/main/java/NotAnEntrypoint.java": "class X {}",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := MavenDetector{}.Detect(r)
			jvmCompare(t, "services", got, tt.want)
			jvmCompare(t, "errors", errs, tt.wantErrs)
		})
	}
}

// jvmCompare compares as JSON so nil and empty slices are the same and a
// difference prints readably.
func jvmCompare(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) == "null" {
		g = []byte("[]")
	}
	if string(w) == "null" {
		w = []byte("[]")
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}
