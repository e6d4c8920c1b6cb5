// decode-manifest reads manifest bytes the way the Go container runtimes do, for sigward's differential gate test.
//
// Input: one JSON request per line on stdin:
//
//	{"contentType": "<Content-Type served, may be empty>", "body": "<base64>", "blobs": {"sha256:…": "<base64>"}}
//
// Output: one JSON line per request with two views:
//   - containerd: the descriptor type is the Content-Type (parameters cut; text/plain means schema 1, as containerd's
//     resolver does); the document must pass containerd's media-type validation (an "unknown document" decoded with
//     encoding/json: no schema 1 fsLayers, no index fields under a manifest type, no manifest fields under an index
//     type) and then decode into the image-spec structs. A layer is runnable when containerd's unpacker takes it as a
//     layer and has a decompressor for its type.
//   - podman (containers/image): the MIME type is the Content-Type, else guessed from the body, then normalised;
//     the document must decode and be unambiguous (no essential fields of another format, matched the way
//     encoding/json matches keys). Every layer of an image manifest is a candidate tar whatever its declared type:
//     containers/storage sniffs compression from the blob's first bytes.
//
// Only the standard library and the image-spec/go-digest sources Debian packages are used: it builds offline in
// GOPATH mode. The logic is written from reading containerd 1.6 (images/image.go, images/mediatypes.go,
// remotes/docker/resolver.go) and containers/image 5.x (manifest/common.go, manifest/manifest.go,
// docker/docker_image_src.go); it replicates their decisions, not their code.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	dockerManifest       = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList           = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerSchema1        = "application/vnd.docker.distribution.manifest.v1+json"
	dockerSchema1Signed  = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	dockerConfig         = "application/vnd.docker.container.image.v1+json"
	dockerLayer          = "application/vnd.docker.image.rootfs.diff.tar"
	dockerLayerGzip      = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayerForeign   = "application/vnd.docker.image.rootfs.foreign.diff.tar"
	dockerLayerForeignGz = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

type request struct {
	ContentType string            `json:"contentType"`
	Body        []byte            `json:"body"`
	Blobs       map[string][]byte `json:"blobs"`
}

type layer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	// containerd: unpacked as a filesystem layer.
	Runnable bool `json:"runnable"`
	// podman: "archive", "not-archive" or "missing" (no blob given: counted as an archive by the test).
	Blob string `json:"blob,omitempty"`
}

type child struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

type view struct {
	// The type the runtime dispatches on (containerd: the descriptor's media type; podman: the decided MIME type).
	Type string `json:"type"`
	// "manifest", "index", "schema1" or "ignored" (a type the runtime does not walk).
	Kind     string `json:"kind"`
	Accepted bool   `json:"accepted"`
	Error    string `json:"error,omitempty"`
	// What encoding/json put into the structs: the document's mediaType, config and subject digests.
	MediaType string  `json:"mediaType"`
	Config    *child  `json:"config,omitempty"`
	Subject   *child  `json:"subject,omitempty"`
	Layers    []layer `json:"layers"`
	Manifests []child `json:"manifests"`
}

type response struct {
	Containerd view   `json:"containerd"`
	Podman     view   `json:"podman"`
	Error      string `json:"error,omitempty"`
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var res response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				res.Error = "bad request: " + jerr.Error()
			} else {
				res.Containerd = containerdView(req)
				res.Podman = podmanView(req)
			}
			enc, _ := json.Marshal(res)
			out.Write(enc)
			out.WriteByte('\n')
			out.Flush()
		}
		if err != nil {
			return
		}
	}
}

// ---- containerd ----

// containerd's resolver: the Content-Type without parameters; text/plain is how one registry serves schema 1.
func containerdDescriptorType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if ct == "text/plain" {
		return dockerSchema1Signed
	}
	return ct
}

// The shape containerd decodes before trusting a document's declared type.
type unknownDocument struct {
	MediaType string          `json:"mediaType,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
	Layers    json.RawMessage `json:"layers,omitempty"`
	Manifests json.RawMessage `json:"manifests,omitempty"`
	FSLayers  json.RawMessage `json:"fsLayers,omitempty"`
}

func containerdValidate(b []byte, mt string) error {
	var doc unknownDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if len(doc.FSLayers) != 0 {
		return fmt.Errorf("media-type: schema 1 not supported")
	}
	switch mt {
	case dockerManifest, ocispec.MediaTypeImageManifest:
		if len(doc.Manifests) != 0 || doc.MediaType == dockerList || doc.MediaType == ocispec.MediaTypeImageIndex {
			return fmt.Errorf("media-type: expected manifest but found index (%s)", mt)
		}
	case dockerList, ocispec.MediaTypeImageIndex:
		if len(doc.Config) != 0 || len(doc.Layers) != 0 || doc.MediaType == dockerManifest || doc.MediaType == ocispec.MediaTypeImageManifest {
			return fmt.Errorf("media-type: expected index but found manifest (%s)", mt)
		}
	}
	return nil
}

// containerd splits "+" suffixes off a media type and sorts them.
func parseMediaTypes(mt string) (string, []string) {
	if mt == "" {
		return "", nil
	}
	s := strings.Split(mt, "+")
	ext := s[1:]
	sort.Strings(ext)
	return s[0], ext
}

// Layers the unpacker hands to the differ: any OCI layer type, and docker's rootfs diff types with any suffix.
func isLayerType(mt string) bool {
	if strings.HasPrefix(mt, "application/vnd.oci.image.layer.") {
		return true
	}
	base, _ := parseMediaTypes(mt)
	switch base {
	case dockerLayer, dockerLayerGzip, dockerLayerForeign, dockerLayerForeignGz:
		return true
	}
	return false
}

// Whether the differ knows how to read the type (containerd's DiffCompression does not fail). Deliberately broad:
// a wrapped type whose stream processor is missing would fail later, but counting it runnable only makes the test
// stricter.
func hasDecompressor(mt string) bool {
	base, _ := parseMediaTypes(mt)
	switch base {
	case dockerLayer, dockerLayerForeign, dockerLayerGzip, dockerLayerForeignGz,
		ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerNonDistributable:
		return true
	}
	return false
}

func containerdView(req request) view {
	mt := containerdDescriptorType(req.ContentType)
	v := view{Type: mt, Layers: []layer{}, Manifests: []child{}}
	switch mt {
	case dockerManifest, ocispec.MediaTypeImageManifest:
		v.Kind = "manifest"
		var m ocispec.Manifest
		if v.refused(func() error { return containerdValidate(req.Body, mt) }, func() error { return json.Unmarshal(req.Body, &m) }) {
			return v
		}
		fillManifest(&v, m)
		for _, l := range m.Layers {
			v.Layers = append(v.Layers, layer{MediaType: l.MediaType, Digest: string(l.Digest), Runnable: isLayerType(l.MediaType) && hasDecompressor(l.MediaType)})
		}
	case dockerList, ocispec.MediaTypeImageIndex:
		v.Kind = "index"
		var idx ocispec.Index
		if v.refused(func() error { return containerdValidate(req.Body, mt) }, func() error { return json.Unmarshal(req.Body, &idx) }) {
			return v
		}
		fillIndex(&v, idx)
	case dockerSchema1Signed:
		// containerd 1.6's CRI converts schema 1: it fetches every fsLayers blob, sniffs its compression and unpacks
		// it. Every such layer counts as runnable.
		v.Kind = "schema1"
		var s1 schema1
		if v.refused(func() (err error) { s1, err = decodeSchema1(req.Body, false); return err }) {
			return v
		}
		v.MediaType = s1.MediaType
		for _, l := range s1.FSLayers {
			v.Layers = append(v.Layers, layer{MediaType: "", Digest: string(l.BlobSum), Runnable: true})
		}
	default:
		// Children(): an unknown type has no children; nothing is fetched or unpacked.
		v.Kind = "ignored"
		v.Accepted = true
	}
	return v
}

// refused runs the runtime's checks in order: the first error refuses the document (nothing is pulled from it).
func (v *view) refused(checks ...func() error) bool {
	for _, check := range checks {
		if err := check(); err != nil {
			v.Error = err.Error()
			return true
		}
	}
	v.Accepted = true
	return false
}

func fillManifest(v *view, m ocispec.Manifest) {
	v.MediaType = m.MediaType
	v.Config = &child{MediaType: m.Config.MediaType, Digest: string(m.Config.Digest)}
	if m.Subject != nil {
		v.Subject = &child{MediaType: m.Subject.MediaType, Digest: string(m.Subject.Digest)}
	}
}

func fillIndex(v *view, idx ocispec.Index) {
	v.MediaType = idx.MediaType
	for _, d := range idx.Manifests {
		v.Manifests = append(v.Manifests, child{MediaType: d.MediaType, Digest: string(d.Digest)})
	}
}

// ---- podman / containers/image ----

type schema1 struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType"`
	FSLayers      []struct {
		BlobSum digest.Digest `json:"blobSum"`
	} `json:"fsLayers"`
	History []struct {
		V1Compatibility string `json:"v1Compatibility"`
	} `json:"history"`
}

// containers/image refuses schema 1 that is not version 1. (Its further checks — history length, layer IDs — are
// left out: accepting more only makes the test stricter.)
func decodeSchema1(b []byte, strict bool) (schema1, error) {
	var s1 schema1
	if err := json.Unmarshal(b, &s1); err != nil {
		return s1, err
	}
	if strict && s1.SchemaVersion != 1 {
		return s1, fmt.Errorf("unsupported schema version %d", s1.SchemaVersion)
	}
	return s1, nil
}

// containers/image's Content-Type handling: mime.ParseMediaType (lower-cases, drops parameters), "" when unparsable.
func simplifyContentType(ct string) string {
	if ct == "" {
		return ""
	}
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return t
}

// containers/image's guess from the body, used when the registry sent no usable Content-Type.
func guessMIMEType(b []byte) string {
	meta := struct {
		MediaType     string      `json:"mediaType"`
		SchemaVersion int         `json:"schemaVersion"`
		Signatures    interface{} `json:"signatures"`
	}{}
	if err := json.Unmarshal(b, &meta); err != nil {
		return ""
	}
	switch meta.MediaType {
	case dockerManifest, dockerList, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex:
		return meta.MediaType
	}
	switch meta.SchemaVersion {
	case 1:
		if meta.Signatures != nil {
			return dockerSchema1Signed
		}
		return dockerSchema1
	case 2:
		ociMan := struct {
			Config struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
		}{}
		if err := json.Unmarshal(b, &ociMan); err != nil {
			return ""
		}
		switch ociMan.Config.MediaType {
		case ocispec.MediaTypeImageConfig:
			return ocispec.MediaTypeImageManifest
		case dockerConfig:
			return dockerManifest
		}
		ociIndex := struct {
			Manifests []ocispec.Descriptor `json:"manifests"`
		}{}
		if err := json.Unmarshal(b, &ociIndex); err != nil {
			return ""
		}
		if len(ociIndex.Manifests) != 0 {
			if ociMan.Config.MediaType == "" {
				return ocispec.MediaTypeImageIndex
			}
			return ociMan.Config.MediaType
		}
		return ocispec.MediaTypeImageManifest
	}
	return ""
}

// containers/image maps anything it does not know to schema 1 signed (some registries send text/plain).
func normalizedMIMEType(t string) string {
	switch t {
	case "application/json":
		return dockerSchema1Signed
	case dockerSchema1, dockerSchema1Signed, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, dockerManifest, dockerList:
		return t
	}
	return dockerSchema1Signed
}

const (
	fieldConfig = 1 << iota
	fieldFSLayers
	fieldHistory
	fieldLayers
	fieldManifests
)

// containers/image's ambiguity check: a document of one format must not carry another format's essential fields,
// detected with encoding/json's own key matching.
func unambiguous(b []byte, allowed int) error {
	f := struct {
		Config    interface{} `json:"config"`
		FSLayers  interface{} `json:"fsLayers"`
		History   interface{} `json:"history"`
		Layers    interface{} `json:"layers"`
		Manifests interface{} `json:"manifests"`
	}{}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var bad []string
	check := func(present bool, bit int, name string) {
		if present && allowed&bit == 0 {
			bad = append(bad, name)
		}
	}
	check(f.Config != nil, fieldConfig, "config")
	check(f.FSLayers != nil, fieldFSLayers, "fsLayers")
	check(f.History != nil, fieldHistory, "history")
	check(f.Layers != nil, fieldLayers, "layers")
	check(f.Manifests != nil, fieldManifests, "manifests")
	if len(bad) > 0 {
		return fmt.Errorf("rejected ambiguous manifest: unexpected %s", strings.Join(bad, ", "))
	}
	return nil
}

func podmanView(req request) view {
	t := simplifyContentType(req.ContentType)
	if t == "" {
		t = guessMIMEType(req.Body)
	}
	t = normalizedMIMEType(t)
	v := view{Type: t, Layers: []layer{}, Manifests: []child{}}
	candidate := func(mt string, d digest.Digest) layer {
		l := layer{MediaType: mt, Digest: string(d)}
		blob, ok := req.Blobs[string(d)]
		switch {
		case !ok:
			l.Blob = "missing"
		case isArchive(blob):
			l.Blob = "archive"
		default:
			l.Blob = "not-archive"
		}
		return l
	}
	switch t {
	case ocispec.MediaTypeImageManifest, dockerManifest:
		v.Kind = "manifest"
		var m ocispec.Manifest
		if v.refused(func() error { return json.Unmarshal(req.Body, &m) }, func() error { return unambiguous(req.Body, fieldConfig|fieldLayers) }) {
			return v
		}
		fillManifest(&v, m)
		for _, l := range m.Layers {
			v.Layers = append(v.Layers, candidate(l.MediaType, l.Digest))
		}
	case ocispec.MediaTypeImageIndex, dockerList:
		v.Kind = "index"
		var idx ocispec.Index
		if v.refused(func() error { return json.Unmarshal(req.Body, &idx) }, func() error { return unambiguous(req.Body, fieldManifests) }) {
			return v
		}
		fillIndex(&v, idx)
	default: // schema 1, signed or not
		v.Kind = "schema1"
		var s1 schema1
		if v.refused(func() (err error) { s1, err = decodeSchema1(req.Body, true); return err }, func() error { return unambiguous(req.Body, fieldFSLayers|fieldHistory) }) {
			return v
		}
		v.MediaType = s1.MediaType
		for _, l := range s1.FSLayers {
			v.Layers = append(v.Layers, candidate("", l.BlobSum))
		}
	}
	return v
}

// An archive as containers/storage would take it: a compression it detects by magic bytes (gzip, bzip2, xz, zstd),
// or a tar stream with at least one entry.
func isArchive(b []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, {'B', 'Z', 'h'}, {0xfd, '7', 'z', 'X', 'Z', 0x00}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	_, err := tar.NewReader(bytes.NewReader(b)).Next()
	return err == nil
}
