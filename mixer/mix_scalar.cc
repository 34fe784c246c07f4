#include "mixer/mix.h"
