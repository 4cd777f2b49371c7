// The CDK app (`npx cdk synth`, `npx cdk deploy`): the example stack, checked by cdk-nag's
// AwsSolutions rules at every synth (a finding without a written acknowledgement fails it).
// Context: `-c clusterArn=arn:aws:rds:... -c secretArn=arn:aws:secretsmanager:...` targets an
// existing cluster instead of creating one; `-c migrations=dir` bundles another directory;
// `-c nag=false` skips cdk-nag (the tests run it in-process, once).
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ExampleStack } from "./example-stack.ts";

const app = new App();
const context = (key: string) => {
  const value = app.node.tryGetContext(key);
  return typeof value === "string" && value ? value : undefined;
};
new ExampleStack(app, "RetortExample", {
  ...(context("migrations") ? { migrationsDirectory: context("migrations") } : {}),
  ...(context("clusterArn") ? { clusterArn: context("clusterArn") } : {}),
  ...(context("secretArn") ? { secretArn: context("secretArn") } : {}),
  env: { account: process.env["CDK_DEFAULT_ACCOUNT"], region: process.env["CDK_DEFAULT_REGION"] },
});
if (String(app.node.tryGetContext("nag")) !== "false") Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
