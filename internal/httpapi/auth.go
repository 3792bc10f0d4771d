package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/regsync/regsync/store"
)

// authorize runs next for requests bearing the token of an API key that
// holds scope and is within its rate limit, and answers a problem to
// others: 401 unauthorized without a valid token, 429 rate_limited over
// the limit, 403 insufficient_scope without the scope.
func (a *api) authorize(scope string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := requestOf(r)
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="regsync"`)
			a.problem(w, r, codeUnauthorized, "Send an API key's token as Authorization: Bearer <token>.", nil)
			return
		}
		key, err := a.store.AuthenticateAPIKey(r.Context(), token)
		if errors.Is(err, store.ErrInvalidToken) {
			// The error names the key id at most, never the secret.
			req.logger.Info("token refused", zap.Error(err))
			w.Header().Set("WWW-Authenticate", `Bearer realm="regsync", error="invalid_token"`)
			a.problem(w, r, codeUnauthorized, "The token is malformed, unknown or revoked.", nil)
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		req.logger = req.logger.With(zap.String("key_id", key.ID))
		if wait := a.reserve(key.ID); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			a.problem(w, r, codeRateLimited, "This API key is over its rate limit; retry after the seconds in Retry-After.", nil)
			return
		}
		if !key.HasScope(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="regsync", error="insufficient_scope", scope="`+scope+`"`)
			a.problem(w, r, codeInsufficientScope, "This API key lacks the scope "+scope+".", nil)
			return
		}
		next(w, r)
	})
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// reserve takes a request from the key's rate limit. It returns 0 when the
// request may go ahead, else the whole seconds to wait before a retry can.
func (a *api) reserve(keyID string) int {
	a.limitersMu.Lock()
	limiter, ok := a.limiters[keyID]
	if !ok {
		limiter = rate.NewLimiter(a.rateLimit, a.rateBurst)
		a.limiters[keyID] = limiter
	}
	a.limitersMu.Unlock()

	now := a.now()
	reservation := limiter.ReserveN(now, 1)
	delay := reservation.DelayFrom(now)
	if delay == 0 {
		return 0
	}
	reservation.CancelAt(now)
	return int(math.Ceil(delay.Seconds()))
}
