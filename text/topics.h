/*
** text/topics.h -- note topics from the notes' summary texts (reference
** topic_model.py, §4.10 "MFTopicScorer"): seed terms label notes, then a
** bag-of-words classifier trained on the unconflicted labels widens each
** topic.  The topic scorers, Core's topic exclusion and CoreWithTopics read
** the result (engine/).
**
** Who calls it: the engine, once per run.  Pure function of the dataset.
*/
#ifndef NS_TOPICS_H
#define NS_TOPICS_H

#include <stdint.h>

#include "../base/base.h"
#include "../base/dataset.h"

/* topic[i] (ns_topic, NS_TOPIC_NONE = unassigned) for every ds note i, in
** ds note order.  pool may be NULL (one thread).  Returns 0 or NS_ENOMEM. */
int ns_topics_assign(const ns_dataset *ds, ns_pool *pool, int8_t *topic);

#endif /* NS_TOPICS_H */
