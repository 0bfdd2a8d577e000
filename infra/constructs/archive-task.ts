import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { FlowLogDestination, FlowLogTrafficType, GatewayVpcEndpointAwsService, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
  type ContainerDefinition,
} from 'aws-cdk-lib/aws-ecs';
import { Effect, PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** What the Docker build context may hold: the asset copies only these (synth stays fast and offline; the image is built at deploy). */
export const TASK_IMAGE_CONTEXT_EXCLUDE = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!tsconfig.json',
  '!events',
  '!src',
  '!functions',
  '!infra',
  'infra/*',
  '!infra/task',
  'src/**/node_modules',
  '**/.venv',
  '**/.local',
  '**/node_modules',
  '**/cdk.out',
];

export interface ArchiveTaskProps {
  readonly projectRoot: string;
  /** The scan-writer's environment: the task runs the same use case with the same configuration. */
  readonly environment: Record<string, string>;
  /** Ephemeral storage of the task (GiB, 21-200). @default 200 */
  readonly ephemeralStorageGiB?: number;
  /** vCPU units and memory (MiB) of the task. @default 4096 and 16384 */
  readonly cpu?: number;
  readonly memoryLimitMiB?: number;
}

/**
 * The task engine (docs/big-scans.md, docs/adr): an ECS cluster on Fargate and the task definition
 * of the archive task (up to 200 GiB ephemeral storage), its image built by `cdk deploy` from this
 * repository (infra/task/Dockerfile, entry point functions/archive-task/main.ts), a VPC with public
 * subnets only (no NAT to pay for: the task has a public IP and no inbound rule; S3 and DynamoDB
 * through gateway endpoints), flow logs and Container Insights. Grant the task's data permissions
 * on `taskRole`; `grantRun` lets a function start it (RunTask on this task definition, PassRole of
 * its two roles, nothing else).
 */
export class ArchiveTask extends Construct {
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly securityGroup: SecurityGroup;
  readonly vpc: Vpc;
  readonly taskRole: IRole;
  /** The variables a function needs to start the task (functions/scan-writer/capacity-config.ts). */
  readonly engineEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: ArchiveTaskProps) {
    super(scope, id);
    const flowLogs = new LogGroup(this, 'FlowLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'tasks', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 }, DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: { all: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL } },
    });
    this.securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: this.vpc,
      allowAllOutbound: true,
      description: 'Archive tasks: no inbound traffic; outbound to AWS APIs only needs HTTPS',
    });
    this.cluster = new Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ContainerInsights.ENABLED });

    const memoryLimitMiB = props.memoryLimitMiB ?? 16384;
    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 4096,
      memoryLimitMiB,
      ephemeralStorageGiB: props.ephemeralStorageGiB ?? 200,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.X86_64, operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    this.taskRole = this.taskDefinition.taskRole;
    const logs = new LogGroup(this, 'TaskLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.container = this.taskDefinition.addContainer('archive-task', {
      // Staged into cdk.out at synth (no Docker needed); built and pushed by `cdk deploy`.
      image: ContainerImage.fromAsset(props.projectRoot, {
        file: 'infra/task/Dockerfile',
        exclude: TASK_IMAGE_CONTEXT_EXCLUDE,
        platform: Platform.LINUX_AMD64,
      }),
      // TASK_MEMORY_MB: what an export build handed over here may use (functions/export-worker/compose.ts).
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: 'archive-task',
        TASK_ENGINE: 'none',
        TASK_MEMORY_MB: String(memoryLimitMiB),
      },
      logging: LogDrivers.awsLogs({ streamPrefix: 'archive-task', logGroup: logs }),
      essential: true,
    });

    this.engineEnvironment = {
      TASK_ENGINE: 'ecs',
      TASK_CLUSTER_ARN: this.cluster.clusterArn,
      TASK_DEFINITION_ARN: this.taskDefinition.taskDefinitionArn,
      TASK_CONTAINER_NAME: this.container.containerName,
      TASK_SUBNETS: this.vpc.publicSubnets.map((s) => s.subnetId).join(','),
      TASK_SECURITY_GROUPS: this.securityGroup.securityGroupId,
      TASK_ASSIGN_PUBLIC_IP: 'ENABLED',
      TASK_MAX_BYTES: String(((props.ephemeralStorageGiB ?? 200) - 10) * 1024 ** 3),
      // The memory of the task: the export worker hands over builds that need more than its own.
      TASK_MEMORY_MB: String(memoryLimitMiB),
    };

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The variables are configuration (bucket, table and bus names, storage and capacity settings), no secrets; the task reads them like the scan-writer function does.',
    });
    const executionPolicy = this.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy');
    if (executionPolicy) {
      Validations.of(executionPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permission (AWS requires "*"); the pull itself is limited to the asset repository.',
      });
    }
  }

  /** Lets `role` start this task (RunTask on this task definition in this cluster) and pass its two roles to ECS, nothing more. */
  grantRun(role: IRole): void {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'RunArchiveTask',
        effect: Effect.ALLOW,
        actions: ['ecs:RunTask'],
        resources: [this.taskDefinition.taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'PassArchiveTaskRoles',
        effect: Effect.ALLOW,
        actions: ['iam:PassRole'],
        resources: [
          this.taskDefinition.taskRole.roleArn,
          ...(this.taskDefinition.executionRole ? [this.taskDefinition.executionRole.roleArn] : []),
        ],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }
}
