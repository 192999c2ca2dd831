/*
** server/http.c -- one HTTP/1.1 connection as a state machine without I/O.
**
** Bytes go in through ns__http_feed(); complete requests come out, one at a
** time (the parser pauses after each so pipelined requests are answered in
** order).  Parsing is http_parser's (Node's classic parser, packaged in
** Debian as libhttp-parser-dev); this file only collects what the server
** needs: method, path, Content-Type, Authorization, Expect, keep-alive and
** the body, within limits:
**   - URL longer than sizeof(req.path)        -> 414
**   - a header line over http_parser's 80 KiB -> 431 (parser error)
**   - body over max_body (declared or streamed) -> 413
**   - all connections' buffered bodies over the shared budget -> 503
** Because it never touches a socket, tests and the fuzz target drive it
** straight from a buffer.
**
** Thread: the loop thread (or a test).  No shared state except the optional
** budget counter, which belongs to the same thread.
*/
#include "server_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H_NONE = 0, H_CTYPE, H_AUTH, H_EXPECT };

static ns__http_conn *conn_of(http_parser *p) { return p->data; }

static int fail(ns__http_conn *c, int status, const char *msg) {
  c->err_status = status;
  c->err_msg = msg;
  return 1;   /* any nonzero return stops http_parser with an error */
}

static int on_message_begin(http_parser *p) {
  ns__http_conn *c = conn_of(p);
  ns__http_req *r = &c->req;
  char *keep = r->body;
  size_t keep_cap = r->body_cap;
  memset(r, 0, sizeof *r);
  /* reuse a buffer the previous request did not hand out */
  r->body = keep;
  r->body_cap = keep_cap;
  r->content_length = UINT64_MAX;
  c->in_message = 1;
  c->last_was_value = 1;
  c->header_which = H_NONE;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  ns__http_conn *c = conn_of(p);
  size_t have = strlen(c->req.path);
  if (have + len >= sizeof c->req.path) return fail(c, 414, "URL too long");
  memcpy(c->req.path + have, at, len);
  c->req.path[have + len] = '\0';
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  ns__http_conn *c = conn_of(p);
  if (c->last_was_value) {        /* a new header starts */
    c->hname_len = 0;
    c->hval_len = 0;
    c->header_which = H_NONE;
    c->last_was_value = 0;
  }
  for (size_t i = 0; i < len; i++) {
    /* names we care about are short; longer ones are simply not matched */
    if (c->hname_len + 1 < sizeof c->hname)
      c->hname[c->hname_len] = (char)tolower((unsigned char)at[i]);
    c->hname_len++;
  }
  return 0;
}

/* Appends to a fixed header buffer; too long -> 431. */
static int append(ns__http_conn *c, char *dst, size_t cap, const char *at, size_t len) {
  if (c->hval_len + len >= cap) return fail(c, 431, "header value too long");
  memcpy(dst + c->hval_len, at, len);
  c->hval_len += len;
  dst[c->hval_len] = '\0';
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  ns__http_conn *c = conn_of(p);
  ns__http_req *r = &c->req;
  if (!c->last_was_value) {       /* first piece of this value */
    size_t n = c->hname_len;
    c->last_was_value = 1;
    c->header_which = H_NONE;
    if (n < sizeof c->hname) {
      c->hname[n] = '\0';
      if (!strcmp(c->hname, "content-type")) { c->header_which = H_CTYPE; r->content_type[0] = '\0'; }
      else if (!strcmp(c->hname, "authorization")) { c->header_which = H_AUTH; r->auth[0] = '\0'; }
      else if (!strcmp(c->hname, "expect")) c->header_which = H_EXPECT;
    }
  }
  switch (c->header_which) {
  case H_CTYPE: return append(c, r->content_type, sizeof r->content_type, at, len);
  case H_AUTH: return append(c, r->auth, sizeof r->auth, at, len);
  case H_EXPECT:
    /* "100-continue" is 12 bytes; anything longer is not it */
    if (c->hval_len + len < sizeof c->hname - 1) {
      memcpy(c->hname + c->hval_len, at, len);
      c->hval_len += len;
      c->hname[c->hval_len] = '\0';
      r->expect_continue = !strcasecmp(c->hname, "100-continue");
    } else {
      c->hval_len += len;
      r->expect_continue = 0;
    }
    return 0;
  default: return 0;
  }
}

/* Content-Type: keep the media type, lower-cased, without parameters. */
static void normalize_ctype(char *s) {
  char *e = strchr(s, ';');
  size_t n, b = 0;
  if (e) *e = '\0';
  n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  while (isspace((unsigned char)s[b])) b++;
  memmove(s, s + b, n - b + 1);
  for (char *q = s; *q; q++) *q = (char)tolower((unsigned char)*q);
}

static int on_headers_complete(http_parser *p) {
  ns__http_conn *c = conn_of(p);
  ns__http_req *r = &c->req;
  char *q = strchr(r->path, '?');
  int st;
  if (q) {
    /* fits: path and query share the URL's 511 bytes */
    snprintf(r->query, sizeof r->query, "%s", q + 1);
    *q = '\0';
  }
  /* http_parser reads a request line without a version as HTTP/0.9 and
  ** accepts any one-digit version: we speak HTTP/1.x only */
  if (p->http_major == 0) return fail(c, 400, "request line without an HTTP/1.x version") ? -1 : 0;
  if (p->http_major != 1) return fail(c, 505, "HTTP version not supported (use HTTP/1.1)") ? -1 : 0;
  normalize_ctype(r->content_type);
  switch (p->method) {
  case HTTP_GET: r->method = NS_HTTP_GET; break;
  case HTTP_POST: r->method = NS_HTTP_POST; break;
  case HTTP_HEAD: r->method = NS_HTTP_HEAD; break;
  default: r->method = NS_HTTP_OTHER; break;
  }
  r->keep_alive = http_should_keep_alive(p);
  if (p->flags & F_CONTENTLENGTH) r->content_length = p->content_length;
  r->has_body = (p->flags & F_CHUNKED) || (r->content_length != UINT64_MAX && r->content_length > 0);
  if (r->content_length != UINT64_MAX && r->content_length > c->max_body)
    return fail(c, 413, "body too large") ? -1 : 0;
  if (c->on_headers && (st = c->on_headers(c->ctx, r)) != 0) {
    c->err_status = st;
    if (!c->err_msg) c->err_msg = "request refused";
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  ns__http_conn *c = conn_of(p);
  ns__http_req *r = &c->req;
  if (r->body_len + len > c->max_body) return fail(c, 413, "body too large");
  if (r->body_len + len + 1 > r->body_cap) {
    /* grow geometrically, but never past the declared length + 1 */
    size_t cap = r->body_cap ? r->body_cap * 2 : 16384, grow;
    char *nb;
    while (cap < r->body_len + len + 1) cap *= 2;
    if (r->content_length != UINT64_MAX && cap > r->content_length + 1)
      cap = (size_t)r->content_length + 1;
    if (cap < r->body_len + len + 1) cap = r->body_len + len + 1;
    grow = cap - r->body_cap;
    if (c->budget && *c->budget + grow > c->budget_max)
      return fail(c, 503, "server busy: too many bodies in flight");
    if (!(nb = ns_realloc(r->body, cap))) return fail(c, 503, "out of memory");
    r->body = nb;
    r->body_cap = cap;
    if (c->budget) *c->budget += grow;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  ns__http_conn *c = conn_of(p);
  c->in_message = 0;
  c->req.keep_alive = http_should_keep_alive(p);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void ns__http_init(ns__http_conn *c, size_t max_body, ns__http_headers_fn on_headers,
                   void *ctx) {
  memset(c, 0, sizeof *c);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->max_body = max_body;
  c->on_headers = on_headers;
  c->ctx = ctx;
}

void ns__http_budget_release(size_t *budget, size_t cap) {
  if (budget) *budget -= cap;
}

void ns__http_free(ns__http_conn *c) {
  if (!c) return;
  ns__http_budget_release(c->budget, c->req.body_cap);
  free(c->req.body);
  c->req.body = NULL;
  c->req.body_cap = c->req.body_len = 0;
}

int ns__http_feed(ns__http_conn *c, const char *data, size_t len, size_t *consumed) {
  size_t n = http_parser_execute(&c->parser, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  *consumed = n;
  if (e == HPE_PAUSED) return NS_HTTP_REQUEST;
  if (e != HPE_OK) {
    if (!c->err_status) {
      /* a parse error of http_parser itself */
      c->err_status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
      c->err_msg = http_errno_description(e);
    }
    return NS_HTTP_ERROR;
  }
  /* http_parser consumes everything unless it errs or pauses */
  return NS_HTTP_NEED_MORE;
}

void ns__http_next(ns__http_conn *c) {
  c->req.body_len = 0;
  if (c->req.body) c->req.body[0] = '\0';
  http_parser_pause(&c->parser, 0);
}

char *ns__http_take_body(ns__http_conn *c, size_t *len, size_t *cap) {
  char *b = c->req.body;
  *len = c->req.body_len;
  *cap = c->req.body_cap;
  c->req.body = NULL;
  c->req.body_len = c->req.body_cap = 0;
  return b;
}

int ns__http_mid_request(const ns__http_conn *c) { return c->in_message; }

const char *ns__http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  case 507: return "Insufficient Storage";
  default: return "Unknown";
  }
}

int ns__http_format(int status, const char *content_type, const char *body,
                    size_t body_len, int keep_alive, const char *extra_headers,
                    int head_only, char **out, size_t *out_len) {
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   "%s"
                   "%s"
                   "\r\n",
                   status, ns__http_reason(status), content_type ? content_type : "text/plain",
                   body ? body_len : 0, keep_alive ? "" : "Connection: close\r\n",
                   extra_headers ? extra_headers : "");
  size_t blen = (body && !head_only) ? body_len : 0;
  char *buf;
  *out = NULL;
  *out_len = 0;
  if (n < 0 || (size_t)n >= sizeof head) return NS_EINVAL;
  if (!(buf = ns_malloc((size_t)n + blen))) return NS_ENOMEM;
  memcpy(buf, head, (size_t)n);
  if (blen) memcpy(buf + n, body, blen);
  *out = buf;
  *out_len = (size_t)n + blen;
  return 0;
}
