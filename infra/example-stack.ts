// The example stack behind `npx cdk synth` / `cdk deploy`: an Aurora Serverless v2 PostgreSQL
// cluster with the Data API enabled, in a VPC of isolated subnets (no NAT: the Data API is an AWS
// endpoint, nothing in the VPC calls out), and the MigrationRunner wired to migrations/. Pass
// `-c clusterArn=... -c secretArn=...` to run the migrations against an existing cluster instead.
import { Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as rds from "aws-cdk-lib/aws-rds";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { MigrationRunner, type MigrationRunnerProps } from "./migration-runner.ts";

export interface ExampleStackProps extends StackProps {
  /** The migrations to bundle. @default "migrations" */
  readonly migrationsDirectory?: string;
  /** An existing cluster (with `secretArn`): no cluster is created. */
  readonly clusterArn?: string;
  readonly secretArn?: string;
  /** @default "app" */
  readonly databaseName?: string;
  readonly runner?: Partial<MigrationRunnerProps>;
}

export class ExampleStack extends Stack {
  readonly runner: MigrationRunner;
  readonly cluster?: rds.DatabaseCluster;

  constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id, props);
    const databaseName = props.databaseName ?? "app";
    const common = { databaseName, migrationsDirectory: props.migrationsDirectory ?? "migrations", ...props.runner };
    if (props.clusterArn) {
      if (!props.secretArn) throw new Error("ExampleStack: -c clusterArn needs -c secretArn (the database user's secret)");
      this.runner = new MigrationRunner(this, "Migrations", {
        ...common,
        clusterArn: props.clusterArn,
        secret: secretsmanager.Secret.fromSecretCompleteArn(this, "Secret", props.secretArn),
      });
      return;
    }
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "database", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    this.cluster = new rds.DatabaseCluster(this, "Database", {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      writer: rds.ClusterInstance.serverlessV2("Writer"),
      serverlessV2MinCapacity: 0,
      serverlessV2MaxCapacity: 2,
      enableDataApi: true,
      defaultDatabaseName: databaseName,
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: true,
      port: 5433,
      backup: { retention: Duration.days(7) },
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    this.runner = new MigrationRunner(this, "Migrations", { ...common, cluster: this.cluster });

    Validations.of(this.cluster).acknowledge(
      {
        id: "AwsSolutions-SMG4",
        reason:
          "The example's generated admin secret is not rotated: rotation needs a rotation Lambda in the VPC and a route to Secrets Manager, which this NAT-less example does not have. Production stacks add `cluster.addRotationSingleUser()`",
      },
      {
        id: "AwsSolutions-RDS10",
        reason: "Deletion protection is on (deletionProtection: true); the rule reads the instance, which inherits it from the cluster",
      },
    );
  }
}
