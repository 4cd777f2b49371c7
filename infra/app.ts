// The CDK app (`cdk synth`). The MigrationRunner construct and the example stack arrive with the
// serverless issue; until then there is nothing to synthesize, and saying so beats an empty stack.
console.error("retort: the CDK app is not built yet (MigrationRunner lands with the serverless issue)");
process.exitCode = 1;
