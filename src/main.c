#include "nb2pipe/alloc.h"
#include "nb2pipe/cli.h"

int main(int argc, char **argv)
{
    nb_alloc_tune();
    return nb_cli_main(argc, argv);
}
