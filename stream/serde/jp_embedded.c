/*
 * Lookup over the generated table of embedded files. Linear: the table holds
 * a handful of schemas and is searched once per schema at start-up.
 */
#include "serde/jp_embedded.h"

#include <string.h>

const jp_embedded_file_t *jp_embedded_find(const char *name)
{
    for (const jp_embedded_file_t *f = jp_embedded_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}
