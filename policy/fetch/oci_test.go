package fetch

import (
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushBundle pushes tarball to the registry at host as ref, the way
// `opa build` output is published to an OCI registry (oras, policy
// registries): an OCI manifest whose layer is the bundle's tar.gz.
func pushBundle(t *testing.T, host, ref string, tarball []byte) {
	t.Helper()
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mutate.Addendum{Layer: static.NewLayer(tarball, types.OCILayer)})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	tag, err := name.NewTag(host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// TestOCIRegistry: a bundle published to an OCI registry is pulled with
// OPA's OCI downloader, activated, persisted, and replaced when the tag
// moves.
func TestOCIRegistry(t *testing.T) {
	t.Parallel()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	pushBundle(t, host, "acme/policy:v1", tarball(t, "r1", ""))

	dir := filepath.Join(t.TempDir(), "authz")
	a := &activations{}
	s := newSource(t, dir, a, func(o *Options) {
		o.Service = Service{Name: "registry", URL: reg.URL, Type: "oci", Timeout: 10 * time.Second}
		o.URL = host + "/acme/policy:v1"
	})
	run(t, s)
	eventually(t, "r1 active from the registry", func() bool { return s.Status().ActiveRevision == "r1" })
	if !s.Persisted() {
		t.Fatal("the pulled bundle is not persisted")
	}

	pushBundle(t, host, "acme/policy:v1", tarball(t, "r2", "\nx := 1\n"))
	eventually(t, "r2 active once the tag moved", func() bool { return s.Status().ActiveRevision == "r2" })
	if n := a.count(); n != 2 {
		t.Errorf("%d activations, want 2", n)
	}
}
