package analyze

import "testing"

func TestGradleDetector(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     []Service
		wantErrs []ServiceError
	}{
		{
			name: "kotlin dsl with toolchain 17, kafka and postgres",
			files: map[string]string{
				"gradlew":             "#!/bin/sh\n",
				"settings.gradle.kts": `rootProject.name = "inventory"` + "\n",
				"build.gradle.kts": `plugins {
    id("org.springframework.boot") version "3.3.5"
    id("io.spring.dependency-management") version "1.1.6"
    kotlin("jvm") version "1.9.25"
    kotlin("plugin.spring") version "1.9.25"
}

group = "com.example"
version = "0.1.0"

java {
    toolchain {
        languageVersion = JavaLanguageVersion.of(17)
    }
}

dependencies {
    implementation("org.springframework.boot:spring-boot-starter-web")
    implementation("org.springframework.boot:spring-boot-starter-actuator")
    implementation("org.springframework.kafka:spring-kafka")
    runtimeOnly("org.postgresql:postgresql")
    // implementation("org.mariadb.jdbc:mariadb-java-client")
    testImplementation("com.mysql:mysql-connector-j")
}
`,
				"gradle.lockfile": "",
				"src/main/resources/application.yml": "server:\n  port: 8085\n" +
					"spring:\n  datasource:\n    url: jdbc:postgresql://${DB_HOST:localhost}/inventory\n",
				"src/main/kotlin/App.kt": `fun main(args: Array<String>) { val k = System.getenv("KAFKA_BOOTSTRAP") }`,
			},
			want: []Service{{
				Name: "inventory", Path: ".", Detector: "gradle", Language: LangKotlin, LanguageVersion: "17",
				Framework: "spring-boot", BuildTool: "gradle", Wrapper: true, Entrypoint: "inventory-0.1.0.jar",
				Project: "build.gradle.kts", Lockfile: "gradle.lockfile",
				Port: 8085, PortSource: "src/main/resources/application.yml:2", HealthPath: "/actuator/health",
				Env: []EnvVar{
					{Name: "DB_HOST", Default: "localhost", Source: "src/main/resources/application.yml:5"},
					{Name: "KAFKA_BOOTSTRAP", Source: "src/main/kotlin/App.kt:1"},
				},
				Backing: []Backing{
					{Kind: BackingKafka, Evidence: "build.gradle.kts: org.springframework.kafka:spring-kafka"},
					{Kind: BackingPostgres, Evidence: "build.gradle.kts: org.postgresql:postgresql", EnvVar: "SPRING_DATASOURCE_URL", Database: "inventory"},
				},
			}},
		},
		{
			name: "groovy dsl with sourceCompatibility and port from properties",
			files: map[string]string{
				"orders/build.gradle": `plugins {
    id 'java'
    id 'org.springframework.boot' version '3.2.0'
}
sourceCompatibility = '11'
dependencies {
    implementation 'org.springframework.boot:spring-boot-starter-webflux'
    implementation group: 'org.mariadb.jdbc', name: 'mariadb-java-client', version: '3.3.0'
}
`,
				"orders/src/main/resources/application.properties": "server.port=${PORT:8085}\n",
				"orders/src/main/java/Orders.java":                 "class Orders {}",
			},
			want: []Service{{
				Name: "orders", Path: "orders", Detector: "gradle", Language: LangJava, LanguageVersion: "11",
				Framework: "spring-boot", BuildTool: "gradle", Entrypoint: "orders.jar", Project: "build.gradle",
				Port: 8085, PortSource: "src/main/resources/application.properties:1",
				Env:         []EnvVar{{Name: "PORT", Default: "8085", Source: "src/main/resources/application.properties:1"}},
				Backing:     []Backing{{Kind: BackingMariaDB, Evidence: "build.gradle: org.mariadb.jdbc:mariadb-java-client"}},
				Assumptions: []string{"no version set in orders/build.gradle: jar assumed to be orders.jar"},
			}},
		},
		{
			name: "multi-project build with a web app, a worker and a library",
			files: map[string]string{
				"gradlew":         "",
				"settings.gradle": "rootProject.name = 'shop'\ninclude 'api', 'jobs'\ninclude(\n  'lib'\n)\n",
				"build.gradle": `plugins {
    id 'org.springframework.boot' version '3.3.5' apply false
}
allprojects {
    version = '2.0.0'
    java { sourceCompatibility = JavaVersion.VERSION_21 }
}
`,
				"api/build.gradle": `plugins { id 'org.springframework.boot' }
dependencies {
    implementation 'org.springframework.boot:spring-boot-starter-web'
    implementation project(':lib')
}
bootJar {
    archiveFileName = 'api.jar'
}
`,
				"jobs/build.gradle.kts": `plugins { id("org.springframework.boot") }
dependencies {
    implementation("org.springframework.boot:spring-boot-starter-amqp")
}
`,
				"lib/build.gradle":           "plugins { id 'java-library' }\n",
				"lib/src/main/java/Lib.java": "class Lib { public static void main(String[] a) {} }",
			},
			want: []Service{
				{
					Name: "api", Path: "api", Detector: "gradle", Language: LangJava, LanguageVersion: "21",
					Framework: "spring-boot", BuildTool: "gradle", Wrapper: true, Entrypoint: "api.jar", Project: "build.gradle",
					Port: 8080, PortSource: "default for spring-boot",
					Assumptions: []string{"port 8080 is Spring Boot's default"},
				},
				{
					Name: "jobs", Path: "jobs", Detector: "gradle", Language: LangJava, LanguageVersion: "21",
					Framework: "worker", BuildTool: "gradle", Wrapper: true, Entrypoint: "jobs-2.0.0.jar", Project: "build.gradle.kts",
					Backing:     []Backing{{Kind: BackingRabbitMQ, Evidence: "build.gradle.kts: org.springframework.boot:spring-boot-starter-amqp"}},
					Assumptions: []string{"no spring-boot-starter-web or -webflux dependency: treated as a worker without a port"},
				},
			},
		},
		{
			name: "root subprojects block applies spring boot",
			files: map[string]string{
				"settings.gradle": "include 'svc'\n",
				"build.gradle": `plugins { id 'org.springframework.boot' version '3.3.5' apply false }
subprojects {
    apply plugin: 'org.springframework.boot'
    dependencies {
        implementation 'org.springframework.boot:spring-boot-starter-web'
        implementation 'org.springframework.boot:spring-boot-starter-data-redis'
    }
}
`,
				"svc/build.gradle":               "version = '1.0'\njava { toolchain { languageVersion.set(JavaLanguageVersion.of(21)) } }\n",
				"svc/src/main/java/Svc.java":     "class Svc { public static void main(String[] a) {} }",
				"svc/src/test/java/SvcTest.java": `class T { @GetMapping("/health") void h() {} }`,
			},
			want: []Service{{
				Name: "svc", Path: "svc", Detector: "gradle", Language: LangJava, LanguageVersion: "21",
				Framework: "spring-boot", BuildTool: "gradle", Entrypoint: "svc-1.0.jar", Project: "build.gradle",
				Port: 8080, PortSource: "default for spring-boot",
				Backing:     []Backing{{Kind: BackingRedis, Evidence: "../build.gradle: org.springframework.boot:spring-boot-starter-data-redis"}},
				Assumptions: []string{"port 8080 is Spring Boot's default"},
			}},
		},
		{
			name: "version catalog and jvmToolchain",
			files: map[string]string{
				"settings.gradle.kts": `rootProject.name = "catalogue"`,
				"gradle.properties":   "version=1.4.0\n",
				"gradle/libs.versions.toml": `[versions]
boot = "3.3.5"
[libraries]
spring-boot-starter-web = { module = "org.springframework.boot:spring-boot-starter-web" }
postgres = { group = "org.postgresql", name = "postgresql", version = "42.7.4" }
jedis = "redis.clients:jedis:5.1.0"
[bundles]
data = ["postgres", "jedis"]
[plugins]
spring-boot = { id = "org.springframework.boot", version.ref = "boot" }
`,
				"build.gradle.kts": `plugins {
    alias(libs.plugins.spring.boot)
    kotlin("jvm")
}
kotlin { jvmToolchain(17) }
dependencies {
    implementation(libs.spring.boot.starter.web)
    implementation(libs.bundles.data)
}
`,
			},
			want: []Service{{
				Name: "catalogue", Path: ".", Detector: "gradle", Language: LangKotlin, LanguageVersion: "17",
				Framework: "spring-boot", BuildTool: "gradle", Entrypoint: "catalogue-1.4.0.jar", Project: "build.gradle.kts",
				Port: 8080, PortSource: "default for spring-boot",
				Backing: []Backing{
					{Kind: BackingPostgres, Evidence: "build.gradle.kts: org.postgresql:postgresql"},
					{Kind: BackingRedis, Evidence: "build.gradle.kts: redis.clients:jedis"},
				},
				Assumptions: []string{"port 8080 is Spring Boot's default"},
			}},
		},
		{
			name: "application plugin without spring",
			files: map[string]string{
				"cli/build.gradle": "plugins {\n    id 'application'\n}\nversion '0.9'\napplication { mainClass = 'cli.Main' }\n",
			},
			want: []Service{{
				Name: "cli", Path: "cli", Detector: "gradle", Language: LangJava, LanguageVersion: "21",
				Framework: "worker", BuildTool: "gradle", Entrypoint: "cli-0.9.jar", Project: "build.gradle",
				Assumptions: []string{
					"Java 21 assumed: cli/build.gradle states no toolchain or sourceCompatibility",
					"cli-0.9.jar is a plain jar: its dependencies are not bundled (apply the Spring Boot or shadow plugin, or copy installDist output into the image)",
				},
			}},
		},
		{
			name: "multi-project root without application plugin and a library are not services",
			files: map[string]string{
				"settings.gradle.kts":   `include(":core")`,
				"build.gradle.kts":      "plugins { java }\n",
				"core/build.gradle.kts": "plugins { `java-library` }\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := GradleDetector{}.Detect(r)
			jvmCompare(t, "services", got, tt.want)
			jvmCompare(t, "errors", errs, tt.wantErrs)
		})
	}
}
