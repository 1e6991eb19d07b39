/* gen_data_main.c - writes gen_data.h's small generated data sets (MNIST,
 * Fashion-MNIST, CIFAR-10, wordlang, in the real formats) under DIR, for
 * `make valgrind` and manual experiments.
 * usage: gen-data DIR [NTRAIN [NTEST]] */
#include <stdio.h>
#include <stdlib.h>

#include "gen_data.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: gen-data DIR [NTRAIN [NTEST]]\n");
        return 2;
    }
    long ntrain = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
    long ntest = argc > 3 ? strtol(argv[3], NULL, 10) : 50;
    if (ntrain < 5 || ntest < 1) {
        fprintf(stderr, "gen-data: NTRAIN must be >= 5 and NTEST >= 1\n");
        return 2;
    }
    if (gen_all(argv[1], (size_t)ntrain, (size_t)ntest)) {
        fprintf(stderr, "gen-data: cannot write under %s\n", argv[1]);
        return 1;
    }
    return 0;
}
