// epcis2.js names the npm placeholder package "fs" (0.0.1-security), which holds nothing and
// which some registries do not serve; Node's own fs module is what it uses.
module.exports = require('node:fs');
