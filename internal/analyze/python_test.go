package analyze

import (
	"reflect"
	"testing"
)

func TestPythonDetector(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     []Service
		wantErrs []ServiceError
	}{
		{
			name: "FastAPI from pyproject with requires-python and uv",
			files: map[string]string{
				"catalog/pyproject.toml": `[project]
name = "catalog_api"
requires-python = ">=3.12"
dependencies = [
  "fastapi>=0.110",
  "uvicorn[standard]>=0.29",
  "asyncpg~=0.29",
  "redis>=5; python_version >= '3.8'",
]

[dependency-groups]
dev = ["pytest"]
`,
				"catalog/uv.lock":         "version = 1\n",
				"catalog/app/__init__.py": "",
				"catalog/app/main.py": `from fastapi import FastAPI
from .config import settings

app = FastAPI(title="catalog")

@app.get("/healthz")
def health():
    return {"ok": True}
`,
				"catalog/app/routers.py": "from fastapi import APIRouter\nrouter = APIRouter()\n",
				"catalog/app/config.py": `from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env")

    database_url: str
    log_level: str = "info"
    workers: int = 2  # per pod

    class Config:
        extra = "ignore"


settings = Settings()
`,
				"catalog/tests/test_main.py": `import os
TOKEN = os.getenv("TEST_ONLY_TOKEN")
`,
				"catalog/.env.example": "DATABASE_URL=postgresql://app:dev@localhost/catalog\nFEATURE_X=on\n",
			},
			want: []Service{{
				Name: "catalog-api", Path: "catalog", Detector: "python", Language: LangPython, LanguageVersion: "3.12",
				Framework: "fastapi", BuildTool: "uv", Entrypoint: "uvicorn app.main:app --host 0.0.0.0 --port 8000",
				Project: "pyproject.toml", Lockfile: "uv.lock", Port: 8000, PortSource: "default for uvicorn", HealthPath: "/healthz",
				Env: []EnvVar{
					{Name: "DATABASE_URL", Secret: true, Database: "catalog", Source: "app/config.py:7"},
					{Name: "FEATURE_X", Default: "on", Source: ".env.example:2"},
					{Name: "LOG_LEVEL", Default: "info", Source: "app/config.py:8"},
					{Name: "WORKERS", Default: "2", Source: "app/config.py:9"},
				},
				Backing: []Backing{
					{Kind: BackingPostgres, Evidence: "pyproject.toml: asyncpg"},
					{Kind: BackingRedis, Evidence: "pyproject.toml: redis"},
				},
				Assumptions: []string{"no port found; using 8000, the default of uvicorn"},
			}},
		},
		{
			name: "Flask from requirements.txt with app.run(port=5001) and no gunicorn",
			files: map[string]string{
				"requirements.txt":        "# runtime\nFlask==3.0.3\npsycopg[binary]==3.1.19\n-r requirements-common.txt\n",
				"requirements-common.txt": "requests>=2\n",
				"requirements-dev.txt":    "pytest\nflask-sqlalchemy[redis]\n",
				"app.py": `import os
from flask import Flask

app = Flask(__name__)
DB = os.environ["DB_PASSWORD"]

@app.route("/health")
def health():
    return "ok"

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5001, debug=False)
`,
			},
			want: []Service{{
				Name: "", Path: ".", Detector: "python", Language: LangPython, LanguageVersion: "3.12",
				Framework: "flask", BuildTool: "pip", Entrypoint: "gunicorn --bind 0.0.0.0:5001 app:app",
				Project: "requirements.txt", Lockfile: "requirements.txt", Port: 5001, PortSource: "app.py:12", HealthPath: "/health",
				Env:     []EnvVar{{Name: "DB_PASSWORD", Secret: true, Source: "app.py:5"}},
				Backing: []Backing{{Kind: BackingPostgres, Evidence: "requirements.txt: psycopg"}},
				Assumptions: []string{
					"no Python version declared (requires-python, .python-version, runtime.txt); assuming 3.12",
					"gunicorn is not a declared dependency; the entrypoint uses it, so add gunicorn to the dependencies",
				},
			}},
		},
		{
			name: "Django with manage.py, decouple settings and a pinned interpreter",
			files: map[string]string{
				"backend/requirements.txt": "Django>=5.0,<5.1\ngunicorn==22.0.0\npsycopg2-binary==2.9.9\n",
				"backend/.python-version":  "3.11.4\n",
				"backend/runtime.txt":      "python-3.10.1\n",
				"backend/manage.py": `#!/usr/bin/env python
import os, sys
def main():
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')
`,
				"backend/shop/__init__.py": "",
				"backend/shop/wsgi.py":     "application = get_wsgi_application()\n",
				"backend/shop/settings.py": `from decouple import config
SECRET_KEY = config("DJANGO_SECRET_KEY")
DEBUG = config("DEBUG", default=False, cast=bool)
DB_HOST = os.environ.get("DB_HOST", "localhost")
`,
				"backend/shop/urls.py":           "urlpatterns = [path(\"healthz/\", health), path(\"admin/\", admin.site.urls)]\n",
				"backend/orders/migrations/x.py": "",
			},
			want: []Service{{
				Name: "backend", Path: "backend", Detector: "python", Language: LangPython, LanguageVersion: "3.11",
				Framework: "django", BuildTool: "pip", Entrypoint: "gunicorn --bind 0.0.0.0:8000 shop.wsgi:application",
				Project: "requirements.txt", Lockfile: "requirements.txt", Port: 8000, PortSource: "default for gunicorn", HealthPath: "/healthz/",
				Env: []EnvVar{
					{Name: "DB_HOST", Default: "localhost", Source: "shop/settings.py:4"},
					{Name: "DEBUG", Default: "False", Source: "shop/settings.py:3"},
					{Name: "DJANGO_SECRET_KEY", Secret: true, Source: "shop/settings.py:2"},
				},
				Backing:     []Backing{{Kind: BackingPostgres, Evidence: "requirements.txt: psycopg2-binary"}},
				Assumptions: []string{"no port found; using 8000, the default of gunicorn"},
			}},
		},
		{
			name: "poetry project with a Procfile reading $PORT",
			files: map[string]string{
				"billing/pyproject.toml": `[tool.poetry]
name = "billing-api"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.11"
flask = "^3.0"
gunicorn = "^22.0"
celery = { version = "^5.3", extras = ["redis"] }

[tool.poetry.group.dev.dependencies]
pytest = "^8"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`,
				"billing/poetry.lock":         "# lock\n",
				"billing/Procfile":            "release: flask db upgrade\nweb: gunicorn billing.wsgi:app --bind 0.0.0.0:$PORT --workers 2\n",
				"billing/.env":                "PORT=9000\nSTRIPE_API_KEY=sk_test_123\n",
				"billing/billing/__init__.py": "",
				"billing/billing/wsgi.py":     "from flask import Flask\napp = Flask(__name__)\n",
			},
			want: []Service{{
				Name: "billing-api", Path: "billing", Detector: "python", Language: LangPython, LanguageVersion: "3.11",
				Framework: "flask", BuildTool: "poetry", Entrypoint: "gunicorn billing.wsgi:app --bind 0.0.0.0:9000 --workers 2",
				Project: "pyproject.toml", Lockfile: "poetry.lock", Port: 9000, PortSource: ".env:1",
				Env: []EnvVar{
					{Name: "PORT", Default: "9000", Source: ".env:1"},
					{Name: "STRIPE_API_KEY", Secret: true, Source: ".env:2"},
				},
				Backing:     []Backing{{Kind: BackingRedis, Evidence: "pyproject.toml: celery[redis]"}},
				Assumptions: []string{"the Procfile command reads $PORT; it is replaced with 9000"},
			}},
		},
		{
			name: "malformed pyproject.toml is an error with its line; the sibling is still found",
			files: map[string]string{
				"broken/pyproject.toml":     "[project]\nname = \"broken\"\ndependencies = [\"fastapi\"\nversion = 1\n",
				"broken/main.py":            "app = FastAPI()\n",
				"worker/requirements.txt":   "pika==1.3.2\n",
				"worker/worker/__main__.py": "import os\nQUEUE = os.getenv('QUEUE_NAME', 'jobs')\n",
				"worker/.python-version":    "3.13\n",
			},
			want: []Service{{
				Name: "worker", Path: "worker", Detector: "python", Language: LangPython, LanguageVersion: "3.13",
				BuildTool: "pip", Entrypoint: "python -m worker", Project: "requirements.txt", Lockfile: "requirements.txt",
				Env:     []EnvVar{{Name: "QUEUE_NAME", Default: "jobs", Source: "worker/__main__.py:2"}},
				Backing: []Backing{{Kind: BackingRabbitMQ, Evidence: "requirements.txt: pika"}},
			}},
			wantErrs: []ServiceError{{
				Path: "broken", File: "broken/pyproject.toml", Line: 4,
				Message: "cannot parse pyproject.toml: expected a comma (',') or array terminator (']'), but got 'v'",
				Hint:    "fix the TOML syntax (an unquoted string or a missing closing bracket is the usual cause); `pip install .` reports the same error",
			}},
		},
		{
			name: "libraries and docs requirements are not services",
			files: map[string]string{
				"pyproject.toml":        "[project]\nname = \"shoplib\"\ndependencies = [\"httpx\"]\n[tool.ruff]\nline-length = 100\n",
				"src/shoplib/core.py":   "def add(a, b):\n    return a + b\n",
				"docs/requirements.txt": "sphinx\nfuro\n",
				"docs/conf.py":          "project = 'shoplib'\n",
			},
		},
		{
			name: "FastAPI in a src layout with a port in uvicorn.run",
			files: map[string]string{
				"pyproject.toml": "[project]\nname = \"Search Service\"\ndependencies = [\"fastapi\", \"uvicorn\", \"pymongo\"]\n",
				"src/search/api.py": `import uvicorn
from fastapi import FastAPI
api: FastAPI = FastAPI()
@api.get("/api/health")
def h(): return {}
if __name__ == "__main__":
    uvicorn.run("search.api:api", host="0.0.0.0", port=int(os.getenv("PORT", "7000")))
`,
				"src/search/other.py": "from fastapi import FastAPI\nsub = FastAPI()\n",
			},
			want: []Service{{
				Name: "search-service", Path: ".", Detector: "python", Language: LangPython, LanguageVersion: "3.12",
				Framework: "fastapi", BuildTool: "pip", Entrypoint: "uvicorn search.api:api --host 0.0.0.0 --port 7000 --app-dir src",
				Project: "pyproject.toml", Port: 7000, PortSource: "src/search/api.py:7", HealthPath: "/api/health",
				Env:         []EnvVar{{Name: "PORT", Default: "7000", Source: "src/search/api.py:7"}},
				Backing:     []Backing{{Kind: BackingMongoDB, Evidence: "pyproject.toml: pymongo"}},
				Assumptions: []string{"no Python version declared (requires-python, .python-version, runtime.txt); assuming 3.12"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := PythonDetector{}.Detect(r)
			// The root directory's name is random; check it is derived from it.
			for i := range got {
				if got[i].Path == "." && tt.want != nil && tt.want[i].Name == "" {
					if got[i].Name == "" {
						t.Errorf("root service has no name")
					}
					got[i].Name = ""
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("services:\n got %s\nwant %s", asJSONForDiff(t, got), asJSONForDiff(t, tt.want))
			}
			if !reflect.DeepEqual(errs, tt.wantErrs) {
				t.Errorf("errors:\n got %s\nwant %s", asJSONForDiff(t, errs), asJSONForDiff(t, tt.wantErrs))
			}
		})
	}
}

func TestPyParseRequirement(t *testing.T) {
	tests := []struct {
		in     string
		name   string
		extras []string
		ok     bool
	}{
		{"psycopg[binary]>=3.1", "psycopg", []string{"binary"}, true},
		{"Flask_SQLAlchemy==3.1 ; python_version>'3.8'", "flask-sqlalchemy", nil, true},
		{"uvicorn[standard, watchfiles]", "uvicorn", []string{"standard", "watchfiles"}, true},
		{"git+https://github.com/x/y.git#egg=my_pkg", "my-pkg", nil, true},
		{"mypkg @ https://example.com/mypkg.whl", "mypkg", nil, true},
		{"./local/path", "", nil, false},
	}
	for _, tt := range tests {
		d, ok := pyParseRequirement(tt.in)
		if ok != tt.ok || d.name != tt.name || !reflect.DeepEqual(d.extras, tt.extras) {
			t.Errorf("pyParseRequirement(%q) = %q %v %v, want %q %v %v", tt.in, d.name, d.extras, ok, tt.name, tt.extras, tt.ok)
		}
	}
}

func TestPyVersionFromSpec(t *testing.T) {
	for in, want := range map[string]string{
		">=3.12": "3.12", "^3.11": "3.11", "<4,>=3.10": "3.10", "!=3.9.*,>=3.8": "3.8", "~=3.11.2": "3.11", "3.10": "3.10", "<4": "",
	} {
		if got := pyVersionFromSpec(in); got != want {
			t.Errorf("pyVersionFromSpec(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPyScanEnvExtra(f *testing.F) {
	f.Add([]byte("class S(BaseSettings):\n    a: str = 'x'\n    b: int\nx = config(\"A\", default=1)\n"))
	f.Add([]byte("class S(BaseSettings):\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = pyScanEnvExtra("f.py", b)
		_, _ = pyParseRequirement(string(b))
		_ = pyVersionFromSpec(string(b))
	})
}
