// tinyrank/tinyrank.hpp — everything, in layer order (see DESIGN: a lower layer never
// includes a higher one).
#pragma once

#include "tinyrank/error.hpp"
#include "tinyrank/data.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tensor.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/runtime.hpp"
#include "tinyrank/tape.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/gradcheck.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/optim.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/matrix_ode.hpp"
#include "tinyrank/regularizer.hpp"
#include "tinyrank/attacks.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/train.hpp"
#include "tinyrank/dlrt.hpp"
