// A header that reaches past its door: schema/ may not include storage/.
#pragma once
#include "storage/engine.hpp"
