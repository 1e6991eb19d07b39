/* gen-data.c - writes small generated data sets (tests/gen_data.h) for the
 * real-cluster test: `gen-data ROOT NTRAIN NTEST`. */
#include <stdio.h>
#include <stdlib.h>

#include "gen_data.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gen-data ROOT NTRAIN NTEST\n");
        return 2;
    }
    long ntrain = atol(argv[2]), ntest = atol(argv[3]);
    if (ntrain < 10 || ntest < 10 || gen_all(argv[1], (size_t)ntrain, (size_t)ntest) != 0) {
        fprintf(stderr, "gen-data: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
