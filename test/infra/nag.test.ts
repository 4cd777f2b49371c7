// cdk-nag's AwsSolutions rules over the example stack (an Aurora Serverless v2 cluster created
// with the runner) and over a runner on an existing cluster with every option on: no finding may
// be left without a written acknowledgement. One app, so the rules run once (they take seconds).
import { App, Stack, Validations } from "aws-cdk-lib";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { expect, it } from "vitest";
import { ExampleStack } from "../../infra/example-stack.ts";

it("AwsSolutions finds nothing unacknowledged", { timeout: 300_000 }, () => {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const env = { account: "123456789012", region: "eu-west-1" };
  new ExampleStack(app, "WithCluster", { env });
  new ExampleStack(app, "ExistingCluster", {
    env,
    clusterArn: "arn:aws:rds:eu-west-1:123456789012:cluster:app",
    secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf",
    runner: { onRollback: "downgrade", requireApproval: true, runOnEveryDeploy: true },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // A finding without an acknowledgement interrupts synthesis with the report.
  const assembly = app.synth();
  expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(["ExistingCluster", "WithCluster"]);
});

it("a finding without an acknowledgement fails synthesis (the check above has teeth)", { timeout: 300_000 }, () => {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Careless");
  new Bucket(stack, "Open");
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
});
