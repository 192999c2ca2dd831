/*
** tests/fuzz/fuzz_http.c -- libFuzzer target for request handling without
** sockets: the bytes go through the connection state machine (engine/
** http.c) in chunks whose sizes come from the input, every complete
** request is routed (ns__server_route) and, for ingest routes, its body is
** parsed and answered -- what the server does, minus the store.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_headers(void *ctx, ns__http_req *req) {
  ns__route_decision d;
  ns__server_route(req, (const char *)ctx, 4096, &d);
  return d.status && req->has_body ? d.status : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ns__http_conn c;
  size_t budget = 0, off, step;
  uint8_t chunk;
  if (size < 1) return 0;
  chunk = data[0];
  data++;
  size--;
  ns__http_init(&c, 4096, on_headers, (void *)"tok");
  c.budget = &budget;
  c.budget_max = 8192;
  for (off = 0; off < size;) {
    size_t used;
    int ev;
    step = chunk ? NS_MIN((size_t)chunk, size - off) : size - off;
    ev = ns__http_feed(&c, (const char *)data + off, step, &used);
    if (used > step) abort();
    off += used;
    if (ev == NS_HTTP_ERROR) {
      if (c.err_status < 400 || c.err_status > 599) abort();
      break;
    }
    if (ev == NS_HTTP_REQUEST) {
      ns__route_decision d;
      ns__server_route(&c.req, "tok", 4096, &d);
      if (!d.status && d.route >= NS_ROUTE_INGEST_RATINGS) {
        ns__batch b;
        size_t len, cap;
        char *body = ns__http_take_body(&c, &len, &cap), *resp;
        memset(&b, 0, sizeof b);
        if (ns__body_parse(&b, d.kind, d.fmt, body ? body : "", body ? len : 0) == 0) {
          resp = ns__ingest_response(&b, ns__batch_rows(&b));
          free(resp);
        }
        ns__batch_free(&b);
        free(body);
        ns__http_budget_release(&budget, cap);
      }
      ns__http_next(&c);
    } else if (used < step) {
      abort();   /* NEED_MORE must consume everything */
    }
  }
  ns__http_free(&c);
  if (budget != 0) abort();   /* every buffered byte accounted back */
  return 0;
}
