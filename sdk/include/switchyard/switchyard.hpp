#pragma once
// Everything a plugin needs.
#include "switchyard/abi.hpp"
#include "switchyard/component.hpp"
#include "switchyard/context.hpp"
#include "switchyard/event.hpp"
#include "switchyard/options.hpp"
#include "switchyard/plugin.hpp"
#include "switchyard/result.hpp"
#include "switchyard/template.hpp"
#include "switchyard/units.hpp"
#include "switchyard/websocket.hpp"
