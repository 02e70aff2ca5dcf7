// Package image assembles the gateway's OCI image from a static binary,
// without a container runtime or registry (issue 14).
package image

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's layout, documented in README "Running in production". The
// root filesystem is read-only friendly: everything the gateway writes goes
// under StateDir (volumes) or /tmp.
const (
	Binary     = "/portcullis"
	ConfigDir  = "/etc/portcullis"
	ConfigFile = ConfigDir + "/portcullis.yaml"
	BundleDir  = ConfigDir + "/bundles/portcullis"
	// StateDir holds the decision-log spool and the persisted remote
	// bundles, each meant to be a volume.
	StateDir       = "/var/lib/portcullis"
	SpoolDir       = StateDir + "/spool"
	PersistenceDir = StateDir + "/bundles"
	// UID and GID are those of distroless's "nonroot" user, so policies
	// written for distroless images (runAsUser 65532) fit.
	UID = 65532
	GID = 65532
	// CAFile is where Go's crypto/x509 looks first for the system roots on
	// Linux. Without it every https fetch (JWKS, introspection, bundle
	// servers, upstreams) of a static binary on an empty base would fail.
	CAFile = "/etc/ssl/certs/ca-certificates.crt"
)

// Options are the inputs of [Build].
type Options struct {
	// Binary is the gateway built with CGO_ENABLED=0 for Arch.
	Binary string
	// Config is the file installed as ConfigFile.
	Config string
	// Bundle is the bundle directory installed as BundleDir.
	Bundle string
	// CABundle is the PEM file of trusted roots installed as CAFile, e.g.
	// the build machine's /etc/ssl/certs/ca-certificates.crt.
	CABundle string
	// Arch is the GOARCH of Binary, e.g. "amd64".
	Arch string
	// Version and Revision become the image's OCI annotations labels.
	Version, Revision string
	// Created stamps the image and every file; a fixed time (the commit's)
	// makes the build reproducible. Zero: the Unix epoch.
	Created time.Time
}

// Build returns the image: one layer with the binary, one with the users,
// the trusted roots, the writable directories, the config and the bundle,
// on an empty base.
func Build(o Options) (v1.Image, error) {
	if o.Binary == "" || o.Config == "" || o.Bundle == "" || o.CABundle == "" || o.Arch == "" {
		return nil, errors.New("image: binary, config, bundle, CA bundle and arch are required")
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0)
	}
	o.Created = o.Created.UTC()
	bin, err := binaryLayer(o)
	if err != nil {
		return nil, err
	}
	files, err := filesLayer(o)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: bin, History: v1.History{CreatedBy: "portcullis binary", Created: v1.Time{Time: o.Created}}},
		mutate.Addendum{Layer: files, History: v1.History{CreatedBy: "portcullis users, config and bundle", Created: v1.Time{Time: o.Created}}},
	)
	if err != nil {
		return nil, fmt.Errorf("image: append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: config file: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		// Entrypoint and Cmd apart, so that `docker run IMAGE version` and
		// a pod's args replace only the subcommand.
		Entrypoint:   []string{Binary},
		Cmd:          []string{"run", "--config", ConfigFile},
		User:         fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir:   "/",
		Env:          []string{"PATH=/"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "8081/tcp": {}},
		Volumes:      map[string]struct{}{SpoolDir: {}, PersistenceDir: {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "portcullis",
			"org.opencontainers.image.version":  o.Version,
			"org.opencontainers.image.revision": o.Revision,
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: set config: %w", err)
	}
	return img, nil
}

func binaryLayer(o Options) (v1.Layer, error) {
	b, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	var t layerTar
	t.file(Binary, 0o555, b, o.Created)
	return t.layer()
}

func filesLayer(o Options) (v1.Layer, error) {
	cfg, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	roots, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(roots) {
		return nil, fmt.Errorf("image: %s: no PEM certificate", o.CABundle)
	}
	var t layerTar
	mt := o.Created
	// Numeric IDs would do for the kernel; the names are for tools (ps,
	// id, Go's os/user) and for runtimes that resolve User by name.
	t.dir("/etc", 0o755, 0, mt)
	t.file("/etc/passwd", 0o444, []byte(fmt.Sprintf(
		"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, GID)), mt)
	t.file("/etc/group", 0o444, []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)), mt)
	t.dir("/etc/ssl", 0o755, 0, mt)
	t.dir("/etc/ssl/certs", 0o755, 0, mt)
	t.file(CAFile, 0o444, roots, mt)
	t.dir("/home", 0o755, 0, mt)
	t.dir("/home/nonroot", 0o700, UID, mt)
	t.dir("/tmp", 0o1777, 0, mt)
	t.dir("/var", 0o755, 0, mt)
	t.dir("/var/lib", 0o755, 0, mt)
	t.dir(StateDir, 0o755, UID, mt)
	t.dir(SpoolDir, 0o700, UID, mt)
	t.dir(PersistenceDir, 0o700, UID, mt)
	// Config and bundle belong to root and are read-only for the gateway's
	// user: a compromised process cannot rewrite its own policy.
	t.dir(ConfigDir, 0o755, 0, mt)
	t.file(ConfigFile, 0o444, cfg, mt)
	t.dir(path.Dir(BundleDir), 0o755, 0, mt)
	err = filepath.WalkDir(o.Bundle, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(o.Bundle, p)
		if err != nil {
			return err
		}
		dst := path.Join(BundleDir, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			t.dir(dst, 0o755, 0, mt)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			t.file(dst, 0o444, b, mt)
		default:
			return fmt.Errorf("%s: not a regular file or directory", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image: bundle: %w", err)
	}
	return t.layer()
}

// layerTar writes one layer's tar; entries are written in call order, the
// parents first.
type layerTar struct {
	buf bytes.Buffer
	tw  *tar.Writer
	err error
}

func (t *layerTar) add(h *tar.Header, body []byte) {
	if t.err != nil {
		return
	}
	if t.tw == nil {
		t.tw = tar.NewWriter(&t.buf)
	}
	h.Name = strings.TrimPrefix(h.Name, "/")
	h.Format = tar.FormatPAX
	if t.err = t.tw.WriteHeader(h); t.err == nil && body != nil {
		_, t.err = t.tw.Write(body)
	}
}

func (t *layerTar) file(name string, mode int64, body []byte, mt time.Time) {
	t.add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: mt}, body)
}

func (t *layerTar) dir(name string, mode int64, owner int, mt time.Time) {
	t.add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: mt}, nil)
}

func (t *layerTar) layer() (v1.Layer, error) {
	if t.err == nil {
		t.err = t.tw.Close()
	}
	if t.err != nil {
		return nil, fmt.Errorf("image: layer: %w", t.err)
	}
	b := t.buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return l, nil
}
