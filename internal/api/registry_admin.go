package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// The registry of critical objects is kept in the kuzet_registry bucket
// (collectors match events against it, the ncc resolves notification
// recipients from it); admins read and change it here. Every change is
// validated as a whole registry before it is imported, and takes effect
// in collectors and the ncc within a second (they watch the bucket). A
// collector started with registry_file imports that file again at its
// start: in a deployment managed through this API, give registry_file to
// no collector.

// registryKV opens the registry bucket through the API's bus.
func (s *Server) registryKV(ctx context.Context) (*bus.RegistryKV, error) {
	b, err := s.requestBus()
	if err != nil {
		return nil, err
	}
	kv, err := bus.OpenRegistryKV(ctx, b.JetStream(), s.cfg.NATS.Replicas, s.log)
	if err != nil {
		return nil, &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the registry bucket is not reachable", Err: err}
	}
	return kv, nil
}

// registryETag is the version of a registry snapshot: the SHA-256 of its
// JSON form.
func registryETag(reg *registry.Registry) string {
	b, _ := json.Marshal(reg)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func (s *Server) loadRegistry(c *fiber.Ctx) (*bus.RegistryKV, *registry.Registry, context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	kv, err := s.registryKV(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, nil, err
	}
	reg, err := kv.Load(ctx)
	if err != nil {
		// An empty bucket: nothing imported yet.
		reg = &registry.Registry{Version: 1}
	}
	return kv, reg, ctx, cancel, nil
}

// getRegistry answers GET /api/v1/admin/registry: the registry as the
// bucket holds it, with its version as ETag.
func (s *Server) getRegistry(c *fiber.Ctx) error {
	_, reg, _, cancel, err := s.loadRegistry(c)
	if err != nil {
		return err
	}
	defer cancel()
	c.Set(fiber.HeaderETag, registryETag(reg))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(reg)
}

// importRegistry validates next and imports it, if the registry is still
// the one the caller saw (If-Match: its ETag).
func (s *Server) importRegistry(c *fiber.Ctx, kv *bus.RegistryKV, cur, next *registry.Registry, ctx context.Context) error {
	if m := c.Get(fiber.HeaderIfMatch); m != "" && m != "*" && m != registryETag(cur) {
		return &Error{Status: fiber.StatusConflict, Code: CodeVersionConflict,
			Message: "the registry changed since you read it; read it again (its ETag) and retry"}
	}
	if err := next.Validate(); err != nil {
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidField, Message: "the registry would not be valid: " + err.Error()}
	}
	n, err := kv.Import(ctx, next)
	if err != nil {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the registry could not be stored", Err: err}
	}
	s.regMu.Lock()
	s.reg = next // key scopes are checked against it from now on
	s.regMu.Unlock()
	s.log.Info("registry changed through the API", "by", principal(c).Name, "changed_keys", n)
	c.Set(fiber.HeaderETag, registryETag(next))
	return c.JSON(fiber.Map{"changed_keys": n, "centers": len(next.Centers), "organisations": len(next.Organisations), "objects": len(next.Objects)})
}

// putRegistry answers PUT /api/v1/admin/registry: the whole registry,
// YAML (configs/registry.yaml's form) or JSON, replaces the bucket's.
func (s *Server) putRegistry(c *fiber.Ctx) error {
	next, err := registry.Parse(c.Body())
	if err != nil {
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidField, Message: err.Error()}
	}
	kv, cur, ctx, cancel, err := s.loadRegistry(c)
	if err != nil {
		return err
	}
	defer cancel()
	return s.importRegistry(c, kv, cur, next, ctx)
}

// registryEntity is one kind of registry entry the admin API edits.
type registryEntity struct {
	name string
	// put replaces or adds the entry decoded from body with id; del
	// removes it (false: no such entry).
	put func(reg *registry.Registry, id string, body []byte) *Error
	del func(reg *registry.Registry, id string) bool
}

func putEntry[T any](list *[]T, idOf func(*T) string, id string, body []byte) *Error {
	var v T
	if err := decodeStrict(body, 256<<10, &v); err != nil {
		return err
	}
	if got := idOf(&v); got != id {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "id", Message: "the body's id " + got + " is not the path's " + id}
	}
	if i := slices.IndexFunc(*list, func(x T) bool { return idOf(&x) == id }); i >= 0 {
		(*list)[i] = v
	} else {
		*list = append(*list, v)
	}
	return nil
}

func delEntry[T any](list *[]T, idOf func(*T) string, id string) bool {
	n := len(*list)
	*list = slices.DeleteFunc(*list, func(x T) bool { return idOf(&x) == id })
	return len(*list) < n
}

var registryEntities = map[string]registryEntity{
	"centers": {name: "center",
		put: func(r *registry.Registry, id string, b []byte) *Error {
			return putEntry(&r.Centers, func(x *registry.Center) string { return x.ID }, id, b)
		},
		del: func(r *registry.Registry, id string) bool {
			return delEntry(&r.Centers, func(x *registry.Center) string { return x.ID }, id)
		}},
	"organisations": {name: "organisation",
		put: func(r *registry.Registry, id string, b []byte) *Error {
			return putEntry(&r.Organisations, func(x *registry.Organisation) string { return x.ID }, id, b)
		},
		del: func(r *registry.Registry, id string) bool {
			return delEntry(&r.Organisations, func(x *registry.Organisation) string { return x.ID }, id)
		}},
	"objects": {name: "object",
		put: func(r *registry.Registry, id string, b []byte) *Error {
			return putEntry(&r.Objects, func(x *registry.Object) string { return x.ID }, id, b)
		},
		del: func(r *registry.Registry, id string) bool {
			return delEntry(&r.Objects, func(x *registry.Object) string { return x.ID }, id)
		}},
}

// changeRegistryEntry answers PUT and DELETE
// /api/v1/admin/registry/{centers|organisations|objects}/{id}: one entry
// (its notification endpoint with it) added, replaced or removed; the
// registry must stay valid (an organisation its objects name cannot go).
func (s *Server) changeRegistryEntry(c *fiber.Ctx) error {
	kind, ok := registryEntities[c.Params("kind")]
	if !ok {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such registry collection: centers, organisations or objects"}
	}
	id := c.Params("id")
	kv, cur, ctx, cancel, err := s.loadRegistry(c)
	if err != nil {
		return err
	}
	defer cancel()
	next, err := cloneRegistry(cur)
	if err != nil {
		return err
	}
	if c.Method() == fiber.MethodDelete {
		if !kind.del(next, id) {
			return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such " + kind.name}
		}
	} else if e := kind.put(next, id, c.Body()); e != nil {
		return e
	}
	if err := s.importRegistry(c, kv, cur, next, ctx); err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Code == CodeInvalidField {
			ae.Message = strings.Replace(ae.Message, "the registry would not be valid", "with this "+kind.name+" the registry would not be valid", 1)
		}
		return err
	}
	return nil
}

func cloneRegistry(r *registry.Registry) (*registry.Registry, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var out registry.Registry
	return &out, json.Unmarshal(b, &out)
}
