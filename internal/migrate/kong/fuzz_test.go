package kong

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/migrate"
)

// FuzzImport feeds arbitrary YAML to the reader and the writer: neither may
// panic, and a plan it returns must write.
func FuzzImport(f *testing.F) {
	seeds, _ := filepath.Glob("../../../tests/testdata/import/kong-*.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("services: [{name: a, url: 'http://x', routes: [{paths: [/]}], plugins: [{name: acl, config: {allow: [g]}}]}]\n"))
	f.Add([]byte("plugins: [{name: jwt, route: r}]\nconsumers: [{username: u, jwt_secrets: [{key: k, secret: s}]}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Import([]migrate.Input{{Name: "kong.yaml", Data: b}})
		if err != nil {
			return
		}
		if err := migrate.Write(t.TempDir(), p); err != nil {
			t.Fatalf("write: %v", err)
		}
	})
}
