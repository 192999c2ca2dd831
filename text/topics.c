/*
** text/topics.c -- note topics (text/topics.h).
**
** PLACEHOLDER until the topic classifier lands: every note is unassigned.
*/
#include <string.h>

#include "topics.h"

int ns_topics_assign(const ns_dataset *ds, ns_pool *pool, int8_t *topic) {
  (void)pool;
  if (ds->n_notes) memset(topic, NS_TOPIC_NONE, ds->n_notes);
  return 0;
}
